ALTER TABLE clients DROP COLUMN owner_generation;
