DELETE FROM standard_attribute;
DELETE FROM code_catalog;
