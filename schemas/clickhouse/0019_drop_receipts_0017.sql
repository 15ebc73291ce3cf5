-- La table receipts triée par courriel, copiée par la migration 0018 dans
-- celle qui la remplace. Une migration à part, comme 0016.
DROP TABLE IF EXISTS receipts_0017;
