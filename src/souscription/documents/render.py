"""The per-dossier pages (offer, contract) and the product's general conditions, as A4 PDF in French.

Why this shape: every dossier gets an offer and a contract, so rendering sits on the hot path of subscription
(target: 25 dossiers a second on two cores, signature included). The per-dossier part is one or two pages drawn
straight on a ReportLab canvas with the standard fonts (nothing embedded, nothing to load); a tiny flowing layout
(`_Sheet`) costs a fraction of platypus, which matters because ReportLab's C accelerator is not installed. The long,
static general conditions are laid out once per product version with platypus, committed as a file, parsed once
(`GeneralConditions`) and appended with pypdf.

Per-dossier pages are written uncompressed: ReportLab compresses through a pure-Python ASCII85 step, and pypdf
compresses them with zlib for less when it merges them with the general conditions.

The caller owns the content: it filters out sensitive answers (health) before building `OfferData`/`ContractData`,
formats the price breakdown lines, and passes every date. Nothing here reads the clock; a PDF's dates are its issue
date, so the same data gives the same bytes.
"""

from __future__ import annotations

import functools
import io
import re
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from pypdf import PdfReader, PdfWriter
from reportlab.lib import colors  # type: ignore[import-untyped]
from reportlab.lib.enums import TA_JUSTIFY  # type: ignore[import-untyped]
from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
from reportlab.lib.styles import ParagraphStyle  # type: ignore[import-untyped]
from reportlab.lib.units import mm  # type: ignore[import-untyped]
from reportlab.pdfbase.pdfmetrics import stringWidth  # type: ignore[import-untyped]
from reportlab.pdfgen.canvas import Canvas  # type: ignore[import-untyped]
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer  # type: ignore[import-untyped]

SUBSCRIPTION_ID = re.compile(r"SUB-\d{4}-\d{6}")
FREQUENCY_LABELS = {"monthly": "mensuel", "annual": "annuel"}
NBSP = "\u00a0"
"""Keeps an amount and its currency on one line (U+202F, the narrow one, is not in the standard fonts' encoding)."""

_MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)


def format_cents(cents: int) -> str:
    """Integer cents as a French amount: 123456 → "1 234,56 €" (the spaces are no-break spaces, U+00A0)."""
    sign = "-" if cents < 0 else ""
    euros, rest = divmod(abs(cents), 100)
    return f"{sign}{euros:,}".replace(",", NBSP) + f",{rest:02d}{NBSP}€"


def format_date(day: date) -> str:
    """A date as French prose: "1er décembre 2026", "21 novembre 2026"."""
    number = "1er" if day.day == 1 else str(day.day)
    return f"{number} {_MONTHS[day.month - 1]} {day.year}"


@dataclass(frozen=True, kw_only=True)
class DossierDocumentData:
    """What both per-dossier documents show. Everything is already decided and filtered by the caller.

    `answers` are (label, value) pairs of the answers that are not sensitive, in display order.
    `instalment_cents` is the premium of one instalment, tax included; `frequency` is "monthly" or "annual".
    `price_lines` are (label, text) pairs of the breakdown as the caller words it ("123,45 €").
    """

    subscription_id: str
    product_label: str
    product_version: str
    customer_name: str
    customer_email: str
    answers: Sequence[tuple[str, str]]
    instalment_cents: int
    frequency: str
    price_lines: Sequence[tuple[str, str]]
    issued_on: date

    def __post_init__(self) -> None:
        if not SUBSCRIPTION_ID.fullmatch(self.subscription_id):
            raise ValueError(f"subscription id {self.subscription_id!r} is not SUB-YYYY-NNNNNN")
        if self.frequency not in FREQUENCY_LABELS:
            raise ValueError(f"unknown billing frequency {self.frequency!r}")
        if self.instalment_cents < 0:
            raise ValueError("a premium is never negative")

    @property
    def frequency_label(self) -> str:
        return FREQUENCY_LABELS[self.frequency]


@dataclass(frozen=True, kw_only=True)
class OfferData(DossierDocumentData):
    """The offer ("proposition d'assurance"): the insurer's terms, binding until `valid_until`."""

    valid_until: date


@dataclass(frozen=True, kw_only=True)
class ContractData(DossierDocumentData):
    """The contract's particular conditions: the offer's terms, plus the dossier's exclusions and effective date.

    `drafted_by` names who drafted the contract (the jurist, or the automatic subscription).
    """

    exclusions: Sequence[str]
    effective_on: date
    drafted_by: str


# Layout, in points.
_INK = colors.HexColor("#1f2937")
_ACCENT = colors.HexColor("#1d4e89")
_RULE = colors.HexColor("#c7d2e0")
_SHADE = colors.HexColor("#eef2f7")
_PAGE_WIDTH, _PAGE_HEIGHT = A4
_MARGIN = 18 * mm
_WIDTH = _PAGE_WIDTH - 2 * _MARGIN
_BOTTOM = 20 * mm
_REGULAR, _BOLD = "Helvetica", "Helvetica-Bold"
_SIZE, _LEADING = 9.5, 12.5
_CELL_PADDING = 6
_ROW_LEADING, _ROW_PADDING = 12, 6
_LABEL_WIDTH = 70 * mm
# The standard fonts print Windows-1252 only. Letters outside it lose their accents rather than print as "■"
# (Łukasz → Lukasz, Nguyễn → Nguyen, Ștefan → Stefan); full Unicode would need an embedded font on every page.
_ENCODING = "cp1252"
_BASE_LETTERS = str.maketrans({"Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "Ħ": "H", "ħ": "h", "\u0131": "i", "ŀ": "l"})


def _pdf_date(day: date) -> str:
    return f"D:{day:%Y%m%d}000000+00'00'"


def _printable(text: str) -> str:
    """The text as the standard fonts can print it: as is when it can, else with the accents it cannot print
    dropped, and "?" for what has no Latin letter (other scripts, emoji)."""
    try:
        text.encode(_ENCODING)
        return text
    except UnicodeEncodeError:
        pass
    printable = []
    for character in text.translate(_BASE_LETTERS):
        try:
            character.encode(_ENCODING)
        except UnicodeEncodeError:
            base = "".join(c for c in unicodedata.normalize("NFKD", character) if not unicodedata.combining(c))
            character = base if base and base.isascii() else "?"
        printable.append(character)
    return "".join(printable)


@functools.lru_cache(maxsize=4096)
def _wrap(text: str, font: str, size: float, width: float) -> tuple[str, ...]:
    """Greedy line breaking at ordinary spaces and newlines only: no-break spaces hold (ReportLab's `simpleSplit`
    breaks at them), and a word wider than the column is cut rather than left to overflow it.

    Cached: labels, fixed sentences and common answers recur from one dossier to the next, and measuring text is
    the costliest part of a page without ReportLab's C accelerator."""
    space = stringWidth(" ", font, size)
    lines: list[str] = []
    for source in _printable(text).split("\n"):
        line: list[str] = []
        used = -space
        for word in (word for word in source.replace("\t", " ").split(" ") if word):
            measure = stringWidth(word, font, size)
            while measure > width and len(word) > 1:
                if line:
                    lines.append(" ".join(line))
                    line, used = [], -space
                cut = len(word) - 1
                while cut > 1 and stringWidth(word[:cut], font, size) > width:
                    cut -= 1
                lines.append(word[:cut])
                word = word[cut:]
                measure = stringWidth(word, font, size)
            if line and used + space + measure > width:
                lines.append(" ".join(line))
                line, used = [], -space
            line.append(word)
            used += space + measure
        lines.append(" ".join(line))
    return tuple(lines)


class _Sheet:
    """A minimal flowing layout on a canvas: blocks go down the page and a new page starts when one does not fit.

    Caller text is drawn as text, never parsed as markup, so a customer's "<" or "&" prints as typed.
    """

    def __init__(self, *, title: str, subject: str, footer: str, issued_on: date) -> None:
        self._buffer = io.BytesIO()
        canvas = Canvas(self._buffer, pagesize=A4, invariant=1, pageCompression=0)
        canvas.setTitle(title)
        canvas.setSubject(subject)
        canvas.setAuthor("Souscription")
        canvas.setCreator("Souscription")
        pdf_date = _pdf_date(issued_on)
        canvas.setDateFormatter(lambda *_: pdf_date)
        self._canvas = canvas
        self._footer = footer
        self._page = 1
        self._y = _PAGE_HEIGHT - _MARGIN

    def _room(self, height: float) -> None:
        if self._y - height < _BOTTOM:
            self._new_page()

    def _new_page(self) -> None:
        self._end_page()
        self._canvas.showPage()
        self._page += 1
        self._y = _PAGE_HEIGHT - _MARGIN

    def _end_page(self) -> None:
        canvas = self._canvas
        canvas.setStrokeColor(_RULE)
        canvas.setLineWidth(0.5)
        canvas.line(_MARGIN, 14 * mm, _PAGE_WIDTH - _MARGIN, 14 * mm)
        canvas.setFont(_REGULAR, 7.5)
        canvas.setFillColor(_INK)
        canvas.drawString(_MARGIN, 10 * mm, _printable(self._footer))
        canvas.drawRightString(_PAGE_WIDTH - _MARGIN, 10 * mm, f"Page {self._page}")

    def _line(self, text: str, *, font: str, size: float, leading: float, color: Any = _INK) -> None:
        self._room(leading)
        self._y -= leading
        self._canvas.setFont(font, size)
        self._canvas.setFillColor(color)
        self._canvas.drawString(_MARGIN, self._y + (leading - size) / 2, _printable(text))

    def title(self, title: str, subtitle: str) -> None:
        self._line(title, font=_BOLD, size=17, leading=21, color=_ACCENT)
        self._line(subtitle, font=_REGULAR, size=11, leading=14)
        self._y -= 10

    def heading(self, text: str) -> None:
        self._room(9 + 14 + 2 * 18)  # never alone at the bottom of a page
        self._y -= 9
        self._line(text, font=_BOLD, size=11, leading=14, color=_ACCENT)
        self._y -= 3

    def rows(
        self, rows: Sequence[tuple[str, str]], *, label_width: float = _LABEL_WIDTH, amounts: bool = False
    ) -> None:
        """Label and value rows, the label column shaded; long text wraps within its column, and a row taller than
        what is left of the page goes on over the next one."""
        value_width = _WIDTH - label_width
        block: list[tuple[Sequence[str], Sequence[str], int]] = []
        for label, value in rows:
            labels = _wrap(label, _REGULAR, _SIZE, label_width - 2 * _CELL_PADDING)
            values = _wrap(value, _REGULAR, _SIZE, value_width - 2 * _CELL_PADDING)
            while labels or values:
                needed = max(len(labels), len(values))
                if self._y - min(needed, 3) * _ROW_LEADING - _ROW_PADDING < _BOTTOM:
                    self._draw_rows(block, label_width, amounts)
                    block = []
                    self._new_page()
                count = min(needed, int((self._y - _BOTTOM - _ROW_PADDING) // _ROW_LEADING))
                block.append((labels[:count], values[:count], count))
                self._y -= count * _ROW_LEADING + _ROW_PADDING
                labels, values = labels[count:], values[count:]
        self._draw_rows(block, label_width, amounts)

    def _draw_rows(
        self, block: Sequence[tuple[Sequence[str], Sequence[str], int]], label_width: float, amounts: bool
    ) -> None:
        """Draw rows that end at the current position, with few operators: ReportLab formats every number it
        writes in pure Python, and that is most of the cost of a page."""
        if not block:
            return
        canvas = self._canvas
        top = self._y + sum(count * _ROW_LEADING + _ROW_PADDING for _, _, count in block)
        canvas.setFillColor(_SHADE)
        canvas.rect(_MARGIN, self._y, label_width, top - self._y, stroke=0, fill=1)
        canvas.setStrokeColor(_RULE)
        canvas.setLineWidth(0.4)
        rules, bottom = [], top
        for _, _, count in block:
            bottom -= count * _ROW_LEADING + _ROW_PADDING
            rules.append((_MARGIN, bottom, _MARGIN + _WIDTH, bottom))
        canvas.lines(rules)
        first_baseline = top - 2.5 - _SIZE
        columns = [(_MARGIN + _CELL_PADDING, [(labels, count) for labels, _, count in block])]
        if not amounts:
            columns.append((_MARGIN + label_width + _CELL_PADDING, [(values, count) for _, values, count in block]))
        for x, cells in columns:
            text = canvas.beginText(x, first_baseline)
            text.setFont(_REGULAR, _SIZE, _ROW_LEADING)
            text.setFillColor(_INK)
            for lines, count in cells:
                for line in lines:
                    text.textLine(line)
                text.moveCursor(0, (count - len(lines)) * _ROW_LEADING + _ROW_PADDING)
            canvas.drawText(text)
        if amounts:
            canvas.setFillColor(_INK)
            canvas.setFont(_REGULAR, _SIZE)
            baseline = first_baseline
            for _, values, count in block:
                for index, line in enumerate(values):
                    canvas.drawRightString(_MARGIN + _WIDTH - _CELL_PADDING, baseline - _ROW_LEADING * index, line)
                baseline -= count * _ROW_LEADING + _ROW_PADDING

    def paragraph(self, text: str, *, size: float = _SIZE, leading: float = _LEADING, justify: bool = True) -> None:
        """Wrapped prose; every line but the last stretched to the full width when `justify`."""
        canvas = self._canvas
        lines = list(_wrap(text, _REGULAR, size, _WIDTH))
        while lines:
            self._room(leading)
            count = min(len(lines), int((self._y - _BOTTOM) // leading))
            text_object = canvas.beginText(_MARGIN, self._y - leading + (leading - size) / 2)
            text_object.setFont(_REGULAR, size, leading)
            text_object.setFillColor(_INK)
            for index, line in enumerate(lines[:count]):
                spaces = line.count(" ")
                last = index == count - 1 and count == len(lines)
                if justify and spaces and not last:
                    text_object.setWordSpace((_WIDTH - stringWidth(line, _REGULAR, size)) / spaces)
                elif justify:
                    text_object.setWordSpace(0)
                text_object.textLine(line)
            canvas.drawText(text_object)
            self._y -= count * leading
            lines = lines[count:]
        self._y -= 4

    def premium(self, before: str, amount: str, after: str) -> None:
        """One line, the amount in bold; one text object, so the viewer places the runs with its own font metrics."""
        self._room(22)
        self._y -= 20
        text_object = self._canvas.beginText(_MARGIN, self._y + 5)
        text_object.setFillColor(_INK)
        for text, font in ((before, _REGULAR), (amount, _BOLD), (after, _REGULAR)):
            text_object.setFont(font, 12)
            text_object.textOut(_printable(text))
        self._canvas.drawText(text_object)
        self._y -= 2

    def space(self, height: float) -> None:
        self._y -= height

    def finish(self) -> bytes:
        self._end_page()
        self._canvas.save()
        return self._buffer.getvalue()


def _dossier_pages(data: DossierDocumentData, *, title: str, footer: str, dates: Sequence[tuple[str, str]]) -> _Sheet:
    sheet = _Sheet(
        title=f"{title} {data.subscription_id}",
        subject=data.product_label,
        footer=footer,
        issued_on=data.issued_on,
    )
    sheet.title(title, f"{data.product_label} — version {data.product_version}")
    sheet.rows(
        [
            ("Référence du dossier", data.subscription_id),
            *dates,
            ("Souscripteur", data.customer_name),
            ("Adresse e-mail", data.customer_email),
        ]
    )
    sheet.heading("Vos déclarations")
    if data.answers:
        sheet.rows(data.answers)
    else:
        sheet.paragraph("Aucune déclaration à reprendre ici.")
    sheet.heading("Votre cotisation")
    sheet.premium(
        "Cotisation : ",
        format_cents(data.instalment_cents),
        f" par échéance — paiement {data.frequency_label}, toutes taxes comprises",
    )
    if data.price_lines:
        sheet.rows(data.price_lines, label_width=110 * mm, amounts=True)
    return sheet


def render_offer(data: OfferData) -> bytes:
    """The offer's own pages ("Proposition d'assurance"), without the general conditions."""
    issued, valid_until = format_date(data.issued_on), format_date(data.valid_until)
    title = "Proposition d'assurance"
    sheet = _dossier_pages(
        data,
        title=title,
        footer=f"{title} {data.subscription_id} — émise le {issued}",
        dates=[("Émise le", issued), ("Valable jusqu'au", valid_until)],
    )
    sheet.heading("Validité et acceptation")
    sheet.paragraph(
        f"Cette proposition est valable jusqu'au {valid_until} inclus, aux conditions tarifaires ci-dessus et sur "
        "la base de vos déclarations. Elle ne vaut pas contrat : les garanties prennent effet à la date indiquée "
        "dans les conditions particulières, après signature du contrat et mise en place du mandat de prélèvement "
        "SEPA."
    )
    sheet.paragraph(
        "Toute réticence ou fausse déclaration intentionnelle entraîne la nullité du contrat, toute omission ou "
        "déclaration inexacte la réduction des indemnités (articles L113-8 et L113-9 du Code des assurances). Les "
        f"conditions générales jointes (version {data.product_version}) font partie intégrante de la présente "
        "proposition."
    )
    return sheet.finish()


def render_contract(data: ContractData) -> bytes:
    """The contract's particular conditions ("Conditions particulières"), without the general conditions."""
    issued, effective = format_date(data.issued_on), format_date(data.effective_on)
    title = "Conditions particulières"
    sheet = _dossier_pages(
        data,
        title=title,
        footer=f"{title} {data.subscription_id} — établies le {issued}",
        dates=[("Établies le", issued), ("Date d'effet", effective)],
    )
    sheet.heading("Exclusions particulières")
    if data.exclusions:
        for exclusion in data.exclusions:
            sheet.paragraph(f"•{NBSP}{exclusion}", justify=False)
    else:
        sheet.paragraph("Aucune exclusion particulière : seules les exclusions des conditions générales s'appliquent.")
    sheet.heading("Formation du contrat")
    sheet.paragraph(
        f"Le contrat prend effet le {effective} à 0 heure, pour une durée d'un an renouvelable par tacite "
        "reconduction. Il est formé des présentes conditions particulières et des conditions générales jointes "
        f"(version {data.product_version}) ; en cas de contradiction, les conditions particulières prévalent. "
        "Le délai et les modalités de renonciation sont indiqués dans les conditions générales."
    )
    sheet.space(4)
    sheet.paragraph(f"Contrat rédigé par : {data.drafted_by}", size=8, leading=10, justify=False)
    return sheet.finish()


def general_conditions_pdf(
    product_label: str, version: str, articles: list[tuple[str, str]], *, edition: date | None = None
) -> bytes:
    """Static general conditions of one product version: a title, then numbered articles.

    Each article is (title, body); blank lines in the body separate paragraphs. Bodies are the product's own text
    from the repository, not caller data, so they may use ReportLab's inline markup (<b>, <i>, <super>; "&" as
    &amp;). `edition` (the version's effective date) is printed and is the PDF's date, so rebuilding gives the same
    bytes. Rendered once per product version (scripts/build_general_conditions.py), never per dossier.
    """
    title = "Conditions générales"
    subtitle = f"{product_label} — version {version}"
    if edition is not None:
        subtitle += f" — édition de {_MONTHS[edition.month - 1]} {edition.year}"
    style = {"fontName": _REGULAR, "fontSize": _SIZE, "leading": _LEADING, "textColor": _INK}
    body = ParagraphStyle("body", alignment=TA_JUSTIFY, spaceAfter=3, **style)
    heading = ParagraphStyle(
        "heading", spaceBefore=7, **{**style, "fontName": _BOLD, "fontSize": 10, "textColor": _ACCENT}
    )
    story: list[Any] = [
        Paragraph(
            title,
            ParagraphStyle(
                "title", **{**style, "fontName": _BOLD, "fontSize": 17, "leading": 21, "textColor": _ACCENT}
            ),
        ),
        Paragraph(subtitle, ParagraphStyle("subtitle", **{**style, "fontSize": 11, "leading": 14})),
        Spacer(1, 3 * mm),
    ]
    for number, (article, text) in enumerate(articles, start=1):
        story.append(Paragraph(f"Article {number} — {article}", heading))
        story += [Paragraph(paragraph.strip(), body) for paragraph in text.split("\n\n") if paragraph.strip()]
    footer = f"{title} — {product_label} — version {version}"
    pdf_date = _pdf_date(edition or date(2000, 1, 1))

    def decorate(canvas: Any, document: Any) -> None:
        canvas.setDateFormatter(lambda *_: pdf_date)
        canvas.saveState()
        canvas.setStrokeColor(_RULE)
        canvas.setLineWidth(0.5)
        canvas.line(_MARGIN, 14 * mm, _PAGE_WIDTH - _MARGIN, 14 * mm)
        canvas.setFont(_REGULAR, 7.5)
        canvas.setFillColor(_INK)
        canvas.drawString(_MARGIN, 10 * mm, footer)
        canvas.drawRightString(_PAGE_WIDTH - _MARGIN, 10 * mm, f"Page {document.page}")
        canvas.restoreState()

    buffer = io.BytesIO()
    SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=_MARGIN,
        rightMargin=_MARGIN,
        topMargin=_MARGIN,
        bottomMargin=_BOTTOM,
        title=f"{title} — {product_label}",
        subject=f"{product_label}, version {version}",
        author="Souscription",
        creator="Souscription",
        invariant=True,
    ).build(story, onFirstPage=decorate, onLaterPages=decorate)
    return buffer.getvalue()


class GeneralConditions:
    """A product version's general conditions, parsed once and appended to every dossier's documents.

    pypdf reads objects lazily from the shared stream, so copying pages is serialised by a lock: one instance can
    be shared by the threads of a worker.
    """

    def __init__(self, pdf: bytes) -> None:
        self._reader = PdfReader(io.BytesIO(pdf))
        self._lock = threading.Lock()
        self.page_count = len(self._reader.pages)

    def append_to(self, writer: PdfWriter) -> None:
        with self._lock:
            for page in self._reader.pages:
                writer.add_page(page)


def merge_with_general_conditions(particular: bytes, general_conditions: bytes | GeneralConditions) -> bytes:
    """One PDF: the dossier's own pages first (compressed), then the general conditions' pages; the dossier's
    metadata is kept.

    Pass a `GeneralConditions` built once per product version; raw bytes work too but are parsed on every call.
    """
    conditions = (
        general_conditions
        if isinstance(general_conditions, GeneralConditions)
        else GeneralConditions(general_conditions)
    )
    own = PdfReader(io.BytesIO(particular))
    writer = PdfWriter()
    for page in own.pages:
        writer.add_page(page).compress_content_streams()
    conditions.append_to(writer)
    metadata = own.metadata  # parsed anew at each read of the property
    if metadata is not None:
        writer.add_metadata(dict(metadata))
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()
