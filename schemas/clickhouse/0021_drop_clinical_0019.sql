-- Les tables cliniques non partitionnées, copiées par la migration 0020 dans
-- celles qui les remplacent. Une migration à part, comme 0016 et 0019.
DROP TABLE IF EXISTS care_episodes_0019;
DROP TABLE IF EXISTS diagnoses_0019;
DROP TABLE IF EXISTS activities_0019;
