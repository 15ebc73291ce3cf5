-- Référentiels.
-- Centres labellisés (liste de référence, import CSV) : un site maladie rare
-- (centre de référence coordonnateur ou constitutif, centre de compétence)
-- d'un établissement, pour une période de labellisation.
CREATE TABLE IF NOT EXISTS reference_centres
(
    finess                    String COMMENT 'établissement du centre (FINESS)'
  , centre_id                 String COMMENT 'code du site maladie rare (1.2.250.1.213.2.61)'
  , centre_name               String COMMENT 'libellé du centre'
  , filiere                   String COMMENT 'filière de santé maladies rares'
  , centre_type               String COMMENT 'coordonnateur, constitutif ou competence'
  , valid_from                Date   COMMENT 'début de labellisation'
  , valid_to                  Date   COMMENT 'fin de labellisation (incluse)'
  , imported_at               DateTime DEFAULT now() COMMENT 'import'
)
ENGINE = ReplacingMergeTree(imported_at)
ORDER BY (finess, centre_id, valid_from);

-- Nombre de dossiers SDM-MR mis à jour dans le DPI, déclaré par
-- l'établissement pour un mois (dénominateur de MR.2). La dernière
-- déclaration d'un mois remplace les précédentes (argMax sur declared_at).
CREATE TABLE IF NOT EXISTS dpi_updates
(
    finess                    String COMMENT 'établissement (FINESS)'
  , month                     Date   COMMENT 'mois (premier jour)'
  , declared_count            UInt32 COMMENT 'versions SDM-MR mises à jour dans le DPI ce mois'
  , source                    String COMMENT 'csv ou http'
  , declared_at               DateTime DEFAULT now() COMMENT 'date de la déclaration'
)
ENGINE = ReplacingMergeTree(declared_at)
ORDER BY (finess, month);

-- Réglages par établissement : nom, date de début de transmission (avant elle,
-- les versions 1 manquantes d'un dossier créé plus tôt ne comptent pas dans le
-- dénominateur estimé de MR.2). '0000-00-00' : pas de date.
CREATE TABLE IF NOT EXISTS establishments
(
    finess                    String COMMENT 'établissement (FINESS)'
  , name                      String COMMENT 'raison sociale'
  , transmission_start        Date   COMMENT 'début de transmission (0000-00-00 : aucun)'
  , updated_at                DateTime DEFAULT now()
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY finess;
