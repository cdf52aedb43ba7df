"""Build the static general conditions PDF of each built-in product version, next to its product.json.

The general conditions are the same for every dossier of a product version, so they are rendered once, here, and
committed as `src/souscription/products/definitions/<product>/<version>/general_conditions.pdf`; the documents
package appends them to each offer and contract (`souscription.documents.render.GeneralConditions`). The text of
each product lives in this script, beside the code that prints it; the label and effective date come from the
version's product.json, which this script only reads. The output is deterministic: rebuilding unchanged text gives
the same bytes, so `--check` can tell whether the committed files are up to date.

    .venv/bin/python scripts/build_general_conditions.py           # (re)write the files
    .venv/bin/python scripts/build_general_conditions.py --check   # exit 1 if a committed file is stale
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path

from souscription.documents.render import general_conditions_pdf

DEFINITIONS = Path(__file__).parents[1] / "src" / "souscription" / "products" / "definitions"
MAX_BYTES = 30_000

# Articles shared by both products: how the contract lives, is paid, ends, and what happens to personal data.
COTISATIONS = (
    "Cotisations et prélèvement SEPA",
    """La cotisation, taxes comprises, est indiquée aux conditions particulières. Elle est payable d'avance, en
    une fois (paiement annuel) ou en douze échéances (paiement mensuel), sans frais de fractionnement.

    Le paiement s'effectue exclusivement par prélèvement SEPA sur le compte désigné par le souscripteur, en vertu
    du mandat qu'il a signé. Chaque prélèvement est annoncé au moins cinq jours avant sa date d'échéance. Le
    souscripteur peut demander à sa banque le remboursement d'un prélèvement autorisé dans les huit semaines qui
    suivent le débit ; il informe l'assureur de tout changement de compte bancaire.

    À défaut de paiement d'une cotisation ou d'une fraction de cotisation dans les dix jours de son échéance,
    l'assureur peut, par lettre recommandée valant mise en demeure, suspendre les garanties trente jours après
    l'envoi de cette lettre, puis résilier le contrat dix jours après l'expiration de ce délai (article L113-3 du
    Code des assurances). La suspension ne dispense pas du paiement des cotisations à échoir.""",
)
RECLAMATIONS = (
    "Réclamations et médiation",
    """Pour toute réclamation, le souscripteur s'adresse d'abord à son interlocuteur habituel, puis, s'il n'a pas
    obtenu satisfaction, au service Réclamations de l'assureur, par écrit ou depuis son espace client. L'assureur
    accuse réception de la réclamation dans les dix jours ouvrables et y répond dans un délai de deux mois au plus.

    Si le désaccord persiste, ou en l'absence de réponse dans ce délai, le souscripteur peut saisir gratuitement
    La Médiation de l'Assurance, TSA 50110, 75441 Paris Cedex 09 (www.mediation-assurance.org). Le médiateur rend
    un avis dans les quatre-vingt-dix jours de sa saisine complète ; le recours au médiateur laisse entier le droit
    de saisir les tribunaux. L'assureur est soumis au contrôle de l'Autorité de contrôle prudentiel et de
    résolution (ACPR), 4 place de Budapest, CS 92459, 75436 Paris Cedex 09.""",
)
DONNEES = (
    "Protection des données personnelles",
    """L'assureur, responsable de traitement, collecte les données du souscripteur et de l'assuré pour
    l'étude du risque, la passation, la gestion et l'exécution du contrat, le recouvrement des cotisations, la
    prévention de la fraude et le respect de ses obligations légales, notamment en matière de lutte contre le
    blanchiment. Les données sont conservées pendant la durée du contrat puis pendant les délais de prescription
    légaux. Elles sont destinées aux services de l'assureur et, dans la limite de leurs attributions, à ses
    réassureurs, prestataires et organismes professionnels habilités.

    Conformément au règlement (UE) 2016/679 et à la loi du 6 janvier 1978 modifiée, la personne concernée dispose
    d'un droit d'accès, de rectification, d'effacement, de limitation, de portabilité et d'opposition, ainsi que
    du droit de définir des directives relatives au sort de ses données après son décès. Ces droits s'exercent
    auprès du délégué à la protection des données de l'assureur. Une réclamation peut être adressée à la CNIL,
    3 place de Fontenoy, TSA 80715, 75334 Paris Cedex 07.""",
)

ARTICLES: dict[str, list[tuple[str, str]]] = {
    "garantie_automobile": [
        (
            "Objet du contrat",
            """Le présent contrat garantit, au-delà de la garantie légale et de la garantie du constructeur, la prise
            en charge des frais de réparation du véhicule désigné aux conditions particulières à la suite d'une panne
            mécanique, électrique ou électronique survenue pendant la période de validité du contrat.

            Le contrat est composé des présentes conditions générales et des conditions particulières, qui
            reprennent les déclarations du souscripteur et la cotisation. Il est régi par le Code des assurances.""",
        ),
        (
            "Définitions",
            """<b>Panne</b> : mise hors d'usage d'un organe garanti, due à une cause interne, fortuite et soudaine,
            et nécessitant sa réparation ou son remplacement. L'usure normale n'est pas une panne.

            <b>Organes garantis</b> : moteur et ses pièces internes lubrifiées, culasse et joint de culasse,
            turbocompresseur, système d'injection, boîte de vitesses et embrayage (hors disque et mécanisme),
            pont et transmission, circuit de refroidissement, direction, alternateur, démarreur, calculateurs et
            capteurs d'origine ; pour un véhicule électrique ou hybride, moteur électrique, chargeur embarqué et,
            après la fin de la garantie du constructeur, batterie de traction.

            <b>Franchise</b> : somme restant à la charge de l'assuré, fixée à 150 € par sinistre.

            <b>Valeur du véhicule</b> : valeur de remplacement à dire d'expert au jour de la panne.""",
        ),
        (
            "Garanties",
            """L'assureur prend en charge le coût des pièces et de la main-d'œuvre nécessaires à la remise en état
            des organes garantis, selon le barème du constructeur, dans un réparateur professionnel choisi par
            l'assuré, après accord préalable de l'assureur. Les frais de démontage et de diagnostic sont pris en
            charge lorsque la panne est garantie.

            L'indemnité est plafonnée, par sinistre, à la valeur du véhicule et, pour l'ensemble des sinistres d'une
            année d'assurance, à deux fois ce montant. Les garanties prennent effet à l'issue d'un délai de carence
            de trente jours à compter de la date d'effet, sauf pour un véhicule de moins de cinq ans.

            En cas de panne, l'assuré déclare le sinistre avant tout démontage, dans les cinq jours ouvrés où il en
            a connaissance, et tient le véhicule à disposition de l'expert. Il joint la facture d'entretien la plus
            récente : le véhicule doit avoir été entretenu selon les préconisations du constructeur.""",
        ),
        (
            "Exclusions générales",
            """Sont exclus : les pannes dont l'origine est antérieure à la prise d'effet du contrat ; les pièces
            d'usure (plaquettes et disques de frein, pneumatiques, balais, courroie d'accessoires, ampoules, batterie
            de servitude, disque et mécanisme d'embrayage) ; les dommages résultant d'un accident, d'un incendie,
            d'un vol, d'un acte de vandalisme ou d'un événement naturel ; les conséquences d'un défaut d'entretien,
            d'un manque de lubrifiant ou de liquide de refroidissement, de l'utilisation d'un carburant inadapté ;
            les véhicules utilisés en compétition, en location ou pour le transport public de personnes ; les
            modifications non homologuées ; les frais de gardiennage, de véhicule de remplacement et les pertes
            d'exploitation ; les dommages intentionnellement causés ou provoqués par l'assuré.

            Les exclusions particulières éventuelles figurent aux conditions particulières.""",
        ),
        (
            "Formation, durée et renonciation",
            """Le contrat est formé par la signature des conditions particulières. Il prend effet à la date qui y
            figure, pour une durée d'un an, puis se renouvelle par tacite reconduction d'année en année.

            Lorsque le contrat est conclu à distance, le souscripteur peut y renoncer, sans frais ni justification,
            dans un délai de quatorze jours calendaires à compter de sa conclusion (article L112-2-1 du Code des
            assurances), par lettre ou envoi recommandé électronique. La cotisation est alors remboursée, déduction
            faite de la part correspondant à la période couverte.""",
        ),
        COTISATIONS,
        (
            "Résiliation",
            """Le souscripteur peut résilier le contrat à chaque échéance annuelle moyennant un préavis de deux
            mois, puis, après un an, à tout moment sans frais ni pénalités (article L113-15-2 du Code des
            assurances), la résiliation prenant effet un mois après sa notification. Il peut également résilier
            en cas de vente ou de destruction du véhicule.

            L'assureur peut résilier le contrat à l'échéance annuelle avec un préavis de deux mois, en cas de
            non-paiement des cotisations, d'aggravation du risque ou d'omission ou d'inexactitude dans la
            déclaration du risque (articles L113-4 et L113-9 du Code des assurances).""",
        ),
        RECLAMATIONS,
        DONNEES,
    ],
    "prevoyance_individuelle": [
        (
            "Objet du contrat",
            """Le présent contrat de prévoyance individuelle garantit le versement d'un capital en cas de décès ou
            de perte totale et irréversible d'autonomie de l'assuré, et d'une rente en cas d'invalidité permanente,
            dans les limites fixées aux conditions particulières.

            Il est composé des présentes conditions générales, du questionnaire de santé et des conditions
            particulières. Il est régi par le Code des assurances ; les garanties en cas de décès relèvent des
            assurances sur la vie.""",
        ),
        (
            "Définitions",
            """<b>Assuré</b> : la personne sur la tête de laquelle repose le risque, âgée de 18 à 65 ans à
            l'adhésion.

            <b>Bénéficiaires</b> : en cas de décès, les personnes désignées par l'assuré ; à défaut, son conjoint
            non séparé de corps ou partenaire de pacte civil de solidarité, à défaut ses enfants nés ou à naître,
            à défaut ses héritiers. Pour les autres garanties, l'assuré lui-même.

            <b>Perte totale et irréversible d'autonomie</b> : impossibilité définitive d'exercer toute activité
            rémunérée, avec obligation de recourir à l'assistance d'une tierce personne pour les actes ordinaires
            de la vie, reconnue avant le 65<super>e</super> anniversaire de l'assuré.

            <b>Invalidité permanente</b> : réduction définitive de la capacité de l'assuré, d'au moins 66 %,
            appréciée par le médecin-conseil de l'assureur après consolidation.""",
        ),
        (
            "Garanties",
            """En cas de décès de l'assuré, l'assureur verse aux bénéficiaires le capital garanti indiqué aux
            conditions particulières. Le même capital est versé par anticipation à l'assuré reconnu en perte totale
            et irréversible d'autonomie ; ce versement met fin à la garantie décès.

            En cas d'invalidité permanente, l'assureur verse à l'assuré une rente annuelle égale à 10 % du capital
            garanti, payable trimestriellement à terme échu, jusqu'à son 62<super>e</super> anniversaire au plus tard.

            Les garanties en cas de maladie prennent effet après un délai d'attente de six mois ; les garanties en
            cas d'accident sont acquises dès la date d'effet. Le capital est versé dans le mois qui suit la
            réception des pièces justificatives (acte de décès, certificat médical précisant la cause, pièce
            d'identité des bénéficiaires).""",
        ),
        (
            "Exclusions générales",
            """Sont exclus : le suicide de l'assuré au cours de la première année d'assurance (article L132-7 du
            Code des assurances) ; les conséquences de faits intentionnellement causés ou provoqués par l'assuré
            ou par un bénéficiaire (ce dernier perdant alors le bénéfice du contrat) ; la guerre civile ou étrangère
            selon la législation en vigueur ; les effets directs ou indirects de la désintégration du noyau atomique ;
            la pratique de sports aériens ou motorisés en compétition ; les suites d'une affection antérieure à
            l'adhésion qui n'aurait pas été déclarée au questionnaire de santé ; l'usage de stupéfiants non prescrits
            médicalement et l'état d'ivresse constaté d'un taux d'alcoolémie supérieur au taux légal.

            Les exclusions particulières décidées au vu du questionnaire de santé figurent aux conditions
            particulières.""",
        ),
        (
            "Déclaration du risque et secret médical",
            """L'assureur se prononce au vu des réponses au questionnaire de santé, exactes et complètes. Toute
            réticence ou fausse déclaration intentionnelle entraîne la nullité du contrat (article L113-8 du Code
            des assurances) ; une omission non intentionnelle peut entraîner la réduction des prestations (article
            L113-9).

            Les informations de santé sont adressées au seul service médical de l'assureur, placé sous la
            responsabilité d'un médecin-conseil, et ne sont jamais communiquées aux services commerciaux ou de
            facturation. Conformément à la convention AERAS, les personnes présentant un risque aggravé de santé
            peuvent bénéficier d'un examen de leur demande à plusieurs niveaux.""",
        ),
        (
            "Formation, durée et renonciation",
            """Le contrat est formé par la signature des conditions particulières. Il prend effet à la date qui y
            figure, pour une durée d'un an, puis se renouvelle par tacite reconduction d'année en année. Il prend
            fin au plus tard au 31 décembre de l'année du 70<super>e</super> anniversaire de l'assuré.

            Le souscripteur peut renoncer au contrat pendant trente jours calendaires révolus à compter du moment où
            il est informé de sa conclusion (article L132-5-1 du Code des assurances), par lettre recommandée ou
            envoi recommandé électronique avec avis de réception. L'assureur rembourse l'intégralité des sommes
            versées dans les trente jours suivant la réception de la renonciation.""",
        ),
        COTISATIONS,
        (
            "Résiliation",
            """Le souscripteur peut résilier le contrat à chaque échéance annuelle moyennant un préavis de deux
            mois, par lettre, envoi recommandé électronique ou depuis son espace client. Le contrat ne comporte pas
            de valeur de rachat : aucune somme n'est due au souscripteur en cas de résiliation, hors cotisation
            afférente à la période non couverte.

            L'assureur ne peut résilier le contrat qu'en cas de non-paiement des cotisations, dans les conditions
            prévues à l'article « Cotisations et prélèvement SEPA » ; il renonce à le résilier en raison de
            l'évolution de l'état de santé de l'assuré.""",
        ),
        RECLAMATIONS,
        DONNEES,
    ],
}


def build(product: str, version_folder: Path) -> bytes:
    definition = json.loads((version_folder / "product.json").read_text(encoding="utf-8"))
    return general_conditions_pdf(
        definition["label"],
        definition["version"],
        ARTICLES[product],
        edition=date.fromisoformat(definition["effective_from"]),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare with the committed files, write nothing")
    args = parser.parse_args()
    stale = []
    for product in sorted(ARTICLES):
        for version_folder in sorted(path for path in (DEFINITIONS / product).iterdir() if path.is_dir()):
            target = version_folder / "general_conditions.pdf"
            pdf = build(product, version_folder)
            if len(pdf) > MAX_BYTES:
                raise SystemExit(f"{target}: {len(pdf)} bytes, more than {MAX_BYTES}")
            if args.check:
                if not target.exists() or target.read_bytes() != pdf:
                    stale.append(target)
                continue
            target.write_bytes(pdf)
            print(f"{target.relative_to(DEFINITIONS.parents[3])}: {len(pdf):,} bytes")
    for target in stale:
        print(f"stale: {target} (run without --check)", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
