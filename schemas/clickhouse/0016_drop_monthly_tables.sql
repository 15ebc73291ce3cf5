-- Les tables partitionnées par mois, copiées par la migration 0015 dans
-- celles qui les remplacent. Une migration à part : si elle s'arrête avant
-- d'être enregistrée, elle se rejoue sans rien refaire de 0015.
DROP TABLE IF EXISTS documents_0014;
DROP TABLE IF EXISTS receipts_0014;
