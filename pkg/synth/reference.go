package synth

import (
	"fmt"
	"io"
	"strings"
)

// Disease is an ORPHA code (JDV_Orpha_Maladies, 1.2.250.1.213.2.49.1) with
// its French label.
type Disease struct{ Code, Label string }

// Diseases are real Orphanet codes, from the most to the least frequent in
// the synthetic files: the generator draws them with a Zipf-like weight
// 1/rank, so that a few diseases gather most patients and the long tail is
// thin, as in the data bank. The kit carries no ORPHA value set (Orphanet
// publishes it, not the ANS), so the list is kept here.
var Diseases = []Disease{
	{"586", "Mucoviscidose"},
	{"232", "Drépanocytose"},
	{"558", "Syndrome de Marfan"},
	{"636", "Neurofibromatose de type 1"},
	{"98896", "Dystrophie musculaire de Duchenne"},
	{"870", "Trisomie 21"},
	{"536", "Lupus érythémateux systémique"},
	{"797", "Sarcoïdose"},
	{"908", "Syndrome de l'X fragile"},
	{"273", "Dystrophie myotonique de Steinert"},
	{"805", "Sclérose tubéreuse de Bourneville"},
	{"730", "Polykystose rénale autosomique dominante"},
	{"567", "Syndrome de délétion 22q11.2"},
	{"881", "Syndrome de Turner"},
	{"803", "Sclérose latérale amyotrophique"},
	{"98878", "Hémophilie A"},
	{"399", "Maladie de Huntington"},
	{"739", "Syndrome de Prader-Willi"},
	{"90291", "Sclérodermie systémique"},
	{"117", "Maladie de Behçet"},
	{"70", "Amyotrophie spinale proximale"},
	{"848", "Bêta-thalassémie"},
	{"716", "Phénylcétonurie"},
	{"791", "Rétinite pigmentaire"},
	{"666", "Ostéogenèse imparfaite"},
	{"15", "Achondroplasie"},
	{"778", "Syndrome de Rett"},
	{"95", "Ataxie de Friedreich"},
	{"904", "Syndrome de Williams"},
	{"905", "Maladie de Wilson"},
	{"355", "Maladie de Gaucher"},
	{"324", "Maladie de Fabry"},
	{"365", "Maladie de Pompe"},
	{"447", "Hémoglobinurie paroxystique nocturne"},
	{"513", "Leucémie lymphoblastique aiguë"},
}

// Centre is a labelled rare-disease centre (site code of
// 1.2.250.1.213.2.61) of an establishment.
type Centre struct {
	FINESS  string
	ID      string // site code
	Name    string
	Filiere string // filière de santé maladies rares
	Type    string // coordonnateur, constitutif or competence
	// Silent centres are labelled but never named by a generated document:
	// the centres that do not transmit yet, which MR.1 is there to show.
	Silent bool
}

// Centres are the labelled centres of Establishments. Every establishment
// has at least one centre that sends; six centres never do.
var Centres = []Centre{
	{"750000010", "S7501", "Maladies rares à expression dermatologique (synthétique)", "FIMARAD", "coordonnateur", false},
	{"750000010", "S7502", "Mucoviscidose (synthétique)", "MUCO-CFTR", "constitutif", false},
	{"750000010", "S7503", "Maladies héréditaires du métabolisme (synthétique)", "G2M", "competence", false},
	{"690000011", "S6901", "Anomalies du développement (synthétique)", "AnDDI-Rares", "coordonnateur", false},
	{"690000011", "S6902", "Maladies neuromusculaires (synthétique)", "FILNEMUS", "constitutif", false},
	{"690000011", "S6903", "Maladies rénales rares (synthétique)", "ORKiD", "competence", true},
	{"130000012", "S1301", "Maladies neuromusculaires (synthétique)", "FILNEMUS", "coordonnateur", false},
	{"130000012", "S1302", "Syndromes drépanocytaires majeurs (synthétique)", "MCGRE", "constitutif", false},
	{"130000012", "S1303", "Maladies auto-immunes systémiques rares (synthétique)", "FAI2R", "competence", true},
	{"310000013", "S3101", "Maladies osseuses constitutionnelles (synthétique)", "OSCAR", "coordonnateur", false},
	{"310000013", "S3102", "Syndrome de Prader-Willi (synthétique)", "DéfiScience", "competence", false},
	{"330000014", "S3301", "Maladies vasculaires rares (synthétique)", "FAVA-Multi", "constitutif", false},
	{"330000014", "S3302", "Sclérose latérale amyotrophique (synthétique)", "FILSLAN", "competence", true},
	{"330000014", "S3303", "Maladies rares du foie (synthétique)", "FILFOIE", "competence", true},
	{"590000015", "S5901", "Maladies héréditaires du rythme cardiaque (synthétique)", "CARDIOGEN", "coordonnateur", false},
	{"590000015", "S5902", "Hémophilie et maladies hémorragiques (synthétique)", "MHEMO", "constitutif", false},
	{"670000016", "S6701", "Maladies rares de l'œil (synthétique)", "SENSGENE", "constitutif", false},
	{"670000016", "S6702", "Mucoviscidose (synthétique)", "MUCO-CFTR", "competence", false},
	{"670000016", "S6703", "Maladies respiratoires rares (synthétique)", "RespiFIL", "competence", true},
	{"440000017", "S4401", "Maladies neurologiques rares (synthétique)", "BRAIN-TEAM", "constitutif", false},
	{"440000017", "S4402", "Déficiences intellectuelles de causes rares (synthétique)", "DéfiScience", "competence", false},
	{"970000018", "S9701", "Syndromes drépanocytaires majeurs (synthétique)", "MCGRE", "competence", false},
	{"970000018", "S9702", "Maladies neuromusculaires (synthétique)", "FILNEMUS", "competence", true},
	{"2A0000019", "S2A01", "Maladies héréditaires du métabolisme (synthétique)", "G2M", "competence", false},
}

// sending returns the centres of an establishment that send documents.
func sending(finess string) []Centre {
	var out []Centre
	for _, c := range Centres {
		if c.FINESS == finess && !c.Silent {
			out = append(out, c)
		}
	}
	return out
}

// WriteCentresCSV writes Centres in the form `bndmrctl import centres`
// reads (finess;centre_id;filiere;type;debut;fin;nom), labelled since
// 2020 with no end.
func WriteCentresCSV(w io.Writer) error {
	var b strings.Builder
	b.WriteString("finess;centre_id;filiere;type;debut;fin;nom\n")
	for _, c := range Centres {
		fmt.Fprintf(&b, "%s;%s;%s;%s;2020-01-01;;%s\n", c.FINESS, c.ID, c.Filiere, c.Type, c.Name)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteEstablishmentsCSV writes Establishments in the form `bndmrctl
// import establishments` reads (finess;nom;debut_transmission).
func WriteEstablishmentsCSV(w io.Writer) error {
	var b strings.Builder
	b.WriteString("finess;nom;debut_transmission\n")
	for _, e := range Establishments {
		fmt.Fprintf(&b, "%s;%s;\n", e.FINESS, e.Name)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
