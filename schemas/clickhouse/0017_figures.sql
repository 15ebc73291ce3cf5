-- Chiffres tenus à l'arrivée : les comptes que les tableaux de bord lisent,
-- mis à jour par le chargeur à chaque lot au lieu d'être recalculés sur
-- tout l'historique à chaque requête (docs/store.md, « Figures kept as they
-- arrive »). Le chargeur qui écrit (un seul à la fois : son consommateur
-- JetStream est épinglé) garde en mémoire l'état courant de chaque dossier,
-- et écrit pour chaque lot la différence : −1 sur les cases que le patient
-- quitte, +1 sur celles où il entre. Une case vaut la somme de ses lignes :
-- exacte quelles que soient les fusions.
-- Une génération est un état de départ : relu des documents, compté, puis
-- suivi lot après lot. Le chargeur en commence une nouvelle quand il devient
-- l'écrivain, après un échec d'écriture dont il ne sait pas s'il a eu lieu,
-- ou quand on la demande (fin de rotation de clé, restauration). Les
-- requêtes lisent la dernière génération complète.
CREATE TABLE IF NOT EXISTS figure_counts
(
    generation UInt64 COMMENT 'génération (figure_generations) à laquelle la ligne appartient'
  , figure     String COMMENT 'tableau (pkg/figures : orpha, departement_sex, sex_age, establishment, site, filiere, diagnosis, deaths, les totaux *_patients et les distributions stat_*)'
  , grp        String COMMENT 'groupe de la case (le département, le sexe) ; vide pour un tableau à une dimension'
  , cell       String COMMENT 'case du tableau (le code ORPHA, le sexe, la classe d''âge… ; la valeur pour une distribution ; vide pour un total)'
  , delta      Int64  COMMENT 'patients (diagnostics pour une distribution) entrés (+) ou sortis (−) de la case ; la case vaut la somme'
  , batch      UInt64 COMMENT 'nombre tiré à chaque écriture : une table répliquée écarte un bloc identique à un bloc récent, deux lots de mêmes différences doivent compter deux fois'
)
ENGINE = SummingMergeTree((delta))
PARTITION BY generation
ORDER BY (figure, grp, cell);

CREATE TABLE IF NOT EXISTS figure_generations
(
    generation UInt64 COMMENT 'numéro, croissant'
  , writer     String COMMENT 'qui l''a commencée : le chargeur (nom de l''instance) ou request (une demande de reconstruction)'
  , completed  UInt8  COMMENT '1 : l''état de départ est entièrement écrit, les requêtes peuvent la lire'
  , at         DateTime DEFAULT now() COMMENT 'écriture de la ligne'
)
ENGINE = MergeTree
ORDER BY (generation, completed);
