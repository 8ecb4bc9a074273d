ALTER TABLE clients DROP COLUMN introspects;
