-- État courant : la version la plus haute de chaque dossier (set_id), sans
-- FINAL. Les doublons non encore fusionnés sont écartés par GROUP BY / argMax.
CREATE VIEW IF NOT EXISTS documents_current AS
SELECT
    set_id
  , max(v)                           AS version_number
  , argMax(finess, v)                AS finess
  , argMax(effective_date, v)        AS effective_date
  , argMax(patient_key, v)           AS patient_key
  , argMax(sex, v)                   AS sex
  , argMax(birth_year_month, v)      AS birth_year_month
  , argMax(residence_departement, v) AS residence_departement
  , argMax(opposition, v)            AS opposition
  , argMax(model_version, v)         AS model_version
FROM (SELECT set_id, version_number AS v, finess, effective_date, patient_key, sex, birth_year_month,
      residence_departement, opposition, model_version FROM documents)
GROUP BY set_id;

CREATE VIEW IF NOT EXISTS diagnoses_current AS
SELECT * FROM diagnoses
WHERE (set_id, version_number) IN (SELECT set_id, max(version_number) FROM documents GROUP BY set_id);

CREATE VIEW IF NOT EXISTS patients_current AS
SELECT * FROM patients
WHERE (set_id, version_number) IN (SELECT set_id, max(version_number) FROM documents GROUP BY set_id);

CREATE VIEW IF NOT EXISTS care_episodes_current AS
SELECT * FROM care_episodes
WHERE (set_id, version_number) IN (SELECT set_id, max(version_number) FROM documents GROUP BY set_id);
