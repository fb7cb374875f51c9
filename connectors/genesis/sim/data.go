package sim

// The vocabulary of generated fiches. Establishment codes, NATINF codes and court
// labels are illustrative (contracts/README.md, "Notes"): realistic in form, not a
// nomenclature.

// DefaultEtablissements are the establishments the generator uses by default.
var DefaultEtablissements = []Etablissement{
	{Code: "FR0690", Libelle: "CP LYON-CORBAS"},
	{Code: "FR0130", Libelle: "CP MARSEILLE"},
	{Code: "FR0750", Libelle: "MA PARIS-LA SANTE"},
	{Code: "FR0940", Libelle: "CP FRESNES"},
	{Code: "FR0330", Libelle: "CP BORDEAUX-GRADIGNAN"},
	{Code: "FR0590", Libelle: "CP LILLE-LOOS-SEQUEDIN"},
	{Code: "FR0670", Libelle: "MA STRASBOURG"},
	{Code: "FR0540", Libelle: "CP NANCY-MAXEVILLE"},
	{Code: "FR0310", Libelle: "CP TOULOUSE-SEYSSES"},
	{Code: "FR0440", Libelle: "CP NANTES"},
}

// juridictions maps an establishment code to its local courts: tribunal judiciaire,
// cour d'appel, cour d'assises.
var juridictions = map[string][3]string{
	"FR0690": {"TJ LYON", "CA LYON", "COUR D'ASSISES DU RHONE"},
	"FR0130": {"TJ MARSEILLE", "CA AIX-EN-PROVENCE", "COUR D'ASSISES DES BOUCHES-DU-RHONE"},
	"FR0750": {"TJ PARIS", "CA PARIS", "COUR D'ASSISES DE PARIS"},
	"FR0940": {"TJ CRETEIL", "CA PARIS", "COUR D'ASSISES DU VAL-DE-MARNE"},
	"FR0330": {"TJ BORDEAUX", "CA BORDEAUX", "COUR D'ASSISES DE LA GIRONDE"},
	"FR0590": {"TJ LILLE", "CA DOUAI", "COUR D'ASSISES DU NORD"},
	"FR0670": {"TJ STRASBOURG", "CA COLMAR", "COUR D'ASSISES DU BAS-RHIN"},
	"FR0540": {"TJ NANCY", "CA NANCY", "COUR D'ASSISES DE MEURTHE-ET-MOSELLE"},
	"FR0310": {"TJ TOULOUSE", "CA TOULOUSE", "COUR D'ASSISES DE LA HAUTE-GARONNE"},
	"FR0440": {"TJ NANTES", "CA RENNES", "COUR D'ASSISES DE LOIRE-ATLANTIQUE"},
}

// offence is an offence of the generator's NATINF list.
type offence struct {
	natinf string
	label  string
	crime  bool
}

var (
	delits = []offence{
		{"7875", "VOL SIMPLE", false},
		{"7806", "VOL AGGRAVE PAR DEUX CIRCONSTANCES", false},
		{"10005", "RECEL DE BIEN PROVENANT D'UN VOL", false},
		{"26200", "DETENTION NON AUTORISEE DE STUPEFIANTS", false},
		{"25453", "TRANSPORT NON AUTORISE DE STUPEFIANTS", false},
		{"7198", "ESCROQUERIE", false},
		{"22062", "CONDUITE SOUS L'EMPIRE D'UN ETAT ALCOOLIQUE EN RECIDIVE", false},
		{"11249", "VIOLENCE SUR CONJOINT SUIVIE D'INCAPACITE SUPERIEURE A 8 JOURS", false},
		{"28154", "MENACE DE MORT REITEREE", false},
		{"7052", "EXTORSION", false},
		{"12379", "VIOLENCE AGGRAVEE PAR DEUX CIRCONSTANCES SUIVIE D'INCAPACITE N'EXCEDANT PAS 8 JOURS", false},
		{"23876", "REFUS D'OBTEMPERER AGGRAVE", false},
	}
	crimes = []offence{
		{"1", "MEURTRE", true},
		{"101", "VOL AVEC ARME", true},
		{"23", "VIOL", true},
		{"6", "TENTATIVE DE MEURTRE", true},
	}

	nomsFamille = []string{"MARTIN", "BERNARD", "THOMAS", "PETIT", "ROBERT", "RICHARD", "DURAND",
		"DUBOIS", "MOREAU", "LAURENT", "SIMON", "MICHEL", "LEFÈVRE", "LEROY", "ROUX", "DAVID",
		"BERTRAND", "MOREL", "FOURNIER", "GIRARD", "BONNET", "DUPONT", "LAMBERT", "FONTAINE",
		"ROUSSEAU", "VINCENT", "MULLER", "FAURE", "ANDRÉ", "MERCIER", "BENALI", "HADDAD",
		"DIALLO", "TRAORÉ", "DA SILVA", "PEREIRA", "D'ALMEIDA", "NGUYEN", "BOUZID", "OUALI"}
	prenomsM = []string{"Lucas", "Hugo", "Karim", "Julien", "Thomas", "Mehdi", "Nicolas", "Kévin",
		"Yann", "Marc", "Mohamed", "Sofiane", "Jérôme", "Anthony", "Mamadou", "Florian", "Rémi",
		"Alexandre", "Youssef", "Dylan", "Jean", "Pierre", "Louis", "Maxime", "Bilal"}
	prenomsF = []string{"Léa", "Camille", "Inès", "Sarah", "Julie", "Manon", "Aïcha", "Laura",
		"Emma", "Chloé", "Marie", "Nadia", "Océane", "Fatoumata", "Sandrine"}
	lieuxNaissance = []string{"LYON", "MARSEILLE", "PARIS", "CRETEIL", "BORDEAUX", "LILLE",
		"STRASBOURG", "NANCY", "TOULOUSE", "NANTES", "SAINT-ETIENNE", "VILLEURBANNE", "ROUBAIX",
		"AULNAY-SOUS-BOIS", "GRENOBLE", "MULHOUSE", "ALGER (ALGERIE)", "CASABLANCA (MAROC)",
		"TUNIS (TUNISIE)", "BAMAKO (MALI)", "BUCAREST (ROUMANIE)", "PORTO (PORTUGAL)"}
	nationalitesEtrangeres = []string{"DZA", "MAR", "TUN", "MLI", "ROU", "PRT", "ITA", "SEN"}
)
