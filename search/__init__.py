"""Finding things and naming codes (检索与代码名称): GET /api/search (one box for POIs, addresses,
components, cases, grids and communities) and GET /api/labels (the Chinese name of every code a
user sees)."""
