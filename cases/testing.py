"""A tiny town for tests and the bench (builders, FixMyStreet-style): one town, two communities,
four unit grids, two responsibility grids with officers, three departments with rules, POIs, a
manhole-cover component and a camera. Coordinates are CGCS2000 lon/lat near Renhe."""
from __future__ import annotations

from civicgrid.codes import uscc_check_char

TOWN = "110113104"
WEST, EAST = TOWN + "001", TOWN + "002"


def uscc(n: int) -> str:
    first17 = f"12110113{n:09d}"
    return first17 + uscc_check_char(first17)


DEPT_ENFORCE, DEPT_MUNICIPAL, DEPT_EAST_MUNICIPAL = uscc(1), uscc(2), uscc(3)
COMPONENT_ID = "11011301001000001"  # 01001 供水井盖 in the west community


def box(x0, y0, x1, y1) -> str:
    return f"SRID=4490;MULTIPOLYGON((({x0} {y0},{x1} {y0},{x1} {y1},{x0} {y1},{x0} {y0})))"


def build_town(conn) -> dict:
    """Insert the town; returns ids tests need."""
    conn.execute("INSERT INTO town VALUES (%s, '仁和镇', %s)", [TOWN, box(116.60, 40.10, 116.64, 40.13)])
    conn.execute("INSERT INTO community (code, town_code, name, kind, geom) VALUES (%s, %s, '仁和社区', '社区', %s), "
                 "(%s, %s, '李各庄村', '村', %s)",
                 [WEST, TOWN, box(116.60, 40.10, 116.62, 40.13), EAST, TOWN, box(116.62, 40.10, 116.64, 40.13)])
    grids = []
    for comm, x0, x1 in ((WEST, 116.60, 116.62), (EAST, 116.62, 116.64)):
        for i, (y0, y1) in enumerate(((40.115, 40.13), (40.10, 40.115)), start=1):
            code = f"{comm}{i:03d}"
            grids.append(code)
            conn.execute("INSERT INTO unit_grid (code, community_code, name, geom) VALUES (%s, %s, %s, %s)",
                         [code, comm, f"网格{code[-5:]}", box(x0, y0, x1, y1)])
    officers = {}
    for n, comm in enumerate((WEST, EAST), start=1):
        oid = conn.execute("INSERT INTO officer (code, name, phone) VALUES (%s, %s, '13800000000') RETURNING id",
                           [f"GO-{n:03d}", f"网格员{n}"]).fetchone()["id"]
        officers[comm] = oid
        rg = comm + "Z01"
        conn.execute("INSERT INTO responsibility_grid (code, community_code, name, officer_id) VALUES (%s, %s, %s, %s)",
                     [rg, comm, f"责任网格{n}", oid])
        conn.execute("INSERT INTO responsibility_grid_member SELECT code, %s FROM unit_grid WHERE community_code = %s",
                     [rg, comm])
    conn.execute("INSERT INTO department (code, name, short_name) VALUES (%s, '仁和镇综合执法队', '执法队'), "
                 "(%s, '顺义区市政管理中心', '市政'), (%s, '李各庄村市政养护站', '养护站')",
                 [DEPT_ENFORCE, DEPT_MUNICIPAL, DEPT_EAST_MUNICIPAL])
    conn.execute("""INSERT INTO department_responsibility (department_code, standard, kind, category_prefix, area_prefix)
                    VALUES (%s, 'GB/T 47678.5-2026', 'matter', '06', %s), (%s, 'GB/T 47678.5-2026', 'matter', '09', %s),
                           (%s, 'GB/T 47678.5-2026', 'matter', '01', %s), (%s, 'GB/T 47678.5-2026', 'matter', '01', %s)""",
                 [DEPT_ENFORCE, TOWN, DEPT_ENFORCE, TOWN, DEPT_MUNICIPAL, TOWN, DEPT_EAST_MUNICIPAL, EAST])
    conn.execute("INSERT INTO poi (name, category, community_code, geom) VALUES "
                 "('仁和镇人民政府', '政府机关', %s, 'SRID=4490;POINT(116.605 40.125)'), "
                 "('李各庄村委会', '村委会', %s, 'SRID=4490;POINT(116.635 40.105)')", [WEST, EAST])
    conn.execute("""INSERT INTO component (id, type_code, name, dept_code, dept_name, unit_grid_code, initial_date, geom)
                    VALUES (%s, '01001', '供水井盖', %s, '顺义区市政管理中心', %s, '2025-01-01', 'SRID=4490;POINT(116.61 40.12)')""",
                 [COMPONENT_ID, DEPT_MUNICIPAL, WEST + "001"])
    conn.execute("INSERT INTO camera (code, name, geom) VALUES ('CAM-001', '仁和路口', 'SRID=4490;POINT(116.631 40.121)')")
    return {"officers": officers, "grids": grids}


def png_bytes(seed: int = 0) -> bytes:
    """A small valid PNG (distinct per seed) for photo uploads."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + bytes([(seed + x) % 256, x % 256, 0]) for x in range(4))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
