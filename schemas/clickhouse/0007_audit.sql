-- Journal des accès au service des indicateurs (pkg/access) : qui (sujet
-- OpenID Connect, émetteur), avec quel rôle, quoi (route, FINESS, période),
-- quand, et la décision. Aucune donnée de patient : les routes des
-- indicateurs n'en servent pas, et le journal n'en garde que le nom de la
-- route et les paramètres FINESS et période. Une ligne par requête, jamais
-- remplacée (MergeTree, pas Replacing) : le journal ne perd rien à la fusion.
CREATE TABLE IF NOT EXISTS audit_access
(
    at              DateTime COMMENT 'instant de la requête (UTC)'
  , subject         String COMMENT 'sujet (sub) du jeton, ou utilisateur de démonstration'
  , issuer          String COMMENT 'émetteur OpenID Connect (vide : --auth none)'
  , name            String COMMENT 'nom affiché de la personne ou du client, si le jeton le donne'
  , role            String COMMENT 'rôle retenu : operator, ministry, establishment, analyst (vide : aucun)'
  , method          String COMMENT 'GET, POST'
  , route           String COMMENT 'route (/report, /api/mr2…), sans paramètres'
  , finess          String COMMENT 'établissement demandé (vide : tous ou sans objet)'
  , period          String COMMENT 'période demandée (from..to ou mois)'
  , decision        String COMMENT 'allowed, ou denied: raison'
  , via             String COMMENT 'session, bearer ou none'
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (at, finess);

-- Historique des déclarations de mises à jour DPI (dénominateurs de MR.2) :
-- chaque changement garde la valeur précédente et son auteur. dpi_updates
-- garde la dernière valeur (ReplacingMergeTree) ; cette table garde toutes
-- les autres.
CREATE TABLE IF NOT EXISTS dpi_updates_history
(
    finess          String COMMENT 'établissement (FINESS)'
  , month           Date   COMMENT 'mois (premier jour)'
  , previous_count  UInt32 COMMENT 'valeur déclarée avant ce changement (0 si aucune)'
  , had_previous    UInt8  COMMENT '1 : une valeur était déclarée avant ce changement'
  , declared_count  UInt32 COMMENT 'nouvelle valeur'
  , author          String COMMENT 'sujet OpenID Connect de l''auteur'
  , role            String COMMENT 'rôle de l''auteur'
  , source          String COMMENT 'http ou csv'
  , changed_at      DateTime COMMENT 'instant du changement (UTC)'
)
ENGINE = MergeTree
ORDER BY (finess, month, changed_at);
