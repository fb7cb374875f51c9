// GENESIS's FichePenale service served by node-soap (npm "soap"), a SOAP stack that
// shares nothing with Passerelle's: connectors/genesis's TestANonGoSOAPStackServesGenesisToTheSource starts
// it with `node server.js` and reads from it with the GENESIS source, unchanged.
//
// It serves the package's copy of the WSDL (../../fiche-penale.wsdl) and fixed data:
// five movements (an ECROU, a MAJ_FICHE_PENALE, a TRANSFERT, the ECROU at the
// destination, and a MAJ_FICHE_PENALE of a fiche it does not know), two fiches, and
// the FicheInconnue fault for any other fiche. It listens on 127.0.0.1, on the port
// given as its first argument (0, the default, lets the system choose), and prints
// "listening <port>" on its standard output once it accepts connections.
//
// The data is invented for the test: it names no real person.
"use strict";

const fs = require("node:fs");
const http = require("node:http");
const path = require("node:path");
const soap = require("soap");

const NS = "urn:justice:genesis:fichepenale:v1";
const SERVICE_PATH = "/genesis/ws/fichepenale";

const wsdl = fs.readFileSync(path.join(__dirname, "..", "..", "fiche-penale.wsdl"), "utf8");

// The feed, in sequence order. Keys are in the WSDL's element order: node-soap writes
// them in the order it is given.
const mouvements = [
  { sequence: 101, numeroEcrou: "24-0412", codeEtablissement: "0750101", type: "ECROU", horodatage: "2024-02-05T16:20:00+01:00" },
  { sequence: 102, numeroEcrou: "24-0412", codeEtablissement: "0750101", type: "MAJ_FICHE_PENALE", horodatage: "2024-06-12T10:00:00+02:00" },
  {
    sequence: 103, numeroEcrou: "24-0412", codeEtablissement: "0750101", type: "TRANSFERT", horodatage: "2024-09-03T07:55:00+02:00",
    codeEtablissementDestination: "0620101", numeroEcrouDestination: "24-0977",
  },
  { sequence: 104, numeroEcrou: "24-0977", codeEtablissement: "0620101", type: "ECROU", horodatage: "2024-09-03T07:55:00+02:00" },
  { sequence: 105, numeroEcrou: "24-9999", codeEtablissement: "0750101", type: "MAJ_FICHE_PENALE", horodatage: "2024-09-04T09:30:00+02:00" },
];

const identite = {
  nom: "TESTARD",
  nomUsage: "TESTARD-NPM",
  prenoms: "Canari Jean Noel",
  sexe: "M",
  dateNaissance: "1988-06-17",
  lieuNaissance: "NODEVILLE",
  nationalite: "FRA",
};

const condamnation = {
  referenceDecision: "TJPARIS-2024-000871",
  juridiction: "TJ PARIS",
  dateDecision: "2024-02-05",
  natureDecision: "JUGEMENT",
  numeroParquet: "23098765432",
  infraction: [
    { codeNatinf: "7875", libelle: "VOL SIMPLE", dateFaits: "2023-12-30" },
    { codeNatinf: "10005", libelle: "RECEL DE BIEN PROVENANT D'UN VOL" },
  ],
  peine: [
    {
      nature: "EMPRISONNEMENT",
      quantum: { annees: 2, mois: 6, jours: 0 },
      partieSursis: { annees: 0, mois: 6, jours: 0 },
      dateDebutExecution: "2024-02-05",
      dateFinPeine: "2026-02-04",
    },
  ],
};

const reduction = [
  { type: "RP", jours: 60, dateDecision: "2024-06-12" },
  { type: "RETRAIT", jours: 10, dateDecision: "2024-08-01" },
];

const fiches = {
  "24-0412|0750101": {
    numeroEcrou: "24-0412",
    codeEtablissement: "0750101",
    libelleEtablissement: "MA PARIS-LA SANTE",
    version: 3,
    identite,
    dateEcrou: "2024-02-05",
    statut: "CONDAMNE",
    condamnation: [condamnation],
    reduction,
    dateLiberationPrevisionnelle: "2025-09-16",
    dateLevee: "2024-09-03",
  },
  "24-0977|0620101": {
    numeroEcrou: "24-0977",
    codeEtablissement: "0620101",
    libelleEtablissement: "CP LONGUENESSE",
    version: 1,
    identite,
    dateEcrou: "2024-09-03",
    statut: "CONDAMNE",
    condamnation: [condamnation],
    reduction,
    dateLiberationPrevisionnelle: "2025-09-16",
  },
};

function clientFault(message) {
  return { Fault: { faultcode: "soap:Client", faultstring: message, statusCode: 500 } };
}

const service = {
  FichePenaleService: {
    FichePenalePort: {
      ListerMouvements(args) {
        const depuis = Number(args.depuisSequence);
        const max = Number(args.nombreMax);
        if (!Number.isInteger(depuis) || !Number.isInteger(max)) {
          throw clientFault("depuisSequence et nombreMax sont obligatoires");
        }
        if (max < 1 || max > 1000) {
          throw clientFault("nombreMax doit être compris entre 1 et 1000");
        }
        const page = mouvements.filter((m) => m.sequence > depuis).slice(0, max);
        const dernierSequence = page.length > 0 ? page[page.length - 1].sequence : depuis;
        return { mouvement: page, dernierSequence };
      },
      ConsulterFichePenale(args) {
        const key = `${args.numeroEcrou}|${args.codeEtablissement}`;
        const fiche = fiches[key];
        if (!fiche) {
          throw {
            Fault: {
              faultcode: "soap:Client",
              faultstring: "Fiche pénale inconnue",
              detail: {
                FicheInconnue: {
                  attributes: { xmlns: NS },
                  numeroEcrou: String(args.numeroEcrou),
                  codeEtablissement: String(args.codeEtablissement),
                },
              },
              statusCode: 500,
            },
          };
        }
        return { fichePenale: fiche };
      },
    },
  },
};

const port = Number(process.argv[2] || 0);
const server = http.createServer((req, res) => {
  res.statusCode = 404;
  res.end();
});
server.listen(port, "127.0.0.1", () => {
  soap.listen(server, SERVICE_PATH, service, wsdl, () => {
    process.stdout.write(`listening ${server.address().port}\n`);
  });
});

// The test ends the process with SIGTERM (or closes our standard input).
process.on("SIGTERM", () => server.close(() => process.exit(0)));
process.stdin.on("end", () => server.close(() => process.exit(0)));
process.stdin.resume();
