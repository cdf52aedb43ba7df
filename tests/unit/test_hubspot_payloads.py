"""What the HubSpot adapter sends, built from the port's records: checked data, HubSpot's property names, the
amount as HubSpot's decimal, the paths of each API version."""

from __future__ import annotations

import pytest

from souscription.integrations.crm.hubspot import HubSpotPaths, amount_text, contact_input, deal_input
from souscription.integrations.crm.hubspot_states import DEFAULT_PIPELINE
from souscription.integrations.crm.port import CustomerContact, DossierDeal, InvalidCrmRecord


def test_a_contact_is_upserted_by_its_email_in_lower_case() -> None:
    contact = CustomerContact(" Jeanne.Martin@Exemple.FR ", "Jeanne", "Martin", phone="+33 6 12 34 56 78", country="fr")
    assert contact_input(contact, "crm:d1:contact") == {
        "idProperty": "email",
        "id": "jeanne.martin@exemple.fr",
        "properties": {
            "email": "jeanne.martin@exemple.fr",
            "firstname": "Jeanne",
            "lastname": "Martin",
            "phone": "+33 6 12 34 56 78",
            "country": "FR",
        },
        "objectWriteTraceId": "crm:d1:contact",
    }


def test_empty_optional_contact_fields_are_not_sent() -> None:
    properties = contact_input(CustomerContact("a@b.fr", "", "Martin"), "k")["properties"]
    assert set(properties) == {"email", "firstname", "lastname"}


@pytest.mark.parametrize(
    ("arguments", "code"),
    [
        (("pas-un-email", "Jeanne", "Martin"), "invalid_email"),
        (("jeanne@exemple.fr", " ", ""), "missing_name"),
    ],
)
def test_a_contact_with_bad_data_is_refused_before_sending(arguments: tuple[str, str, str], code: str) -> None:
    with pytest.raises(InvalidCrmRecord) as refused:
        CustomerContact(*arguments)
    assert refused.value.code == code


def test_a_deal_is_upserted_by_its_subscription_id_at_the_dossier_stage() -> None:
    deal = DossierDeal("SUB-2026-000042", "Assurance emprunteur", 123456, "priced")
    assert deal_input(deal, DEFAULT_PIPELINE, "crm:d1:deal", "souscription_subscription_id") == {
        "idProperty": "souscription_subscription_id",
        "id": "SUB-2026-000042",
        "properties": {
            "dealname": "SUB-2026-000042 · Assurance emprunteur",
            "pipeline": "default",
            "dealstage": "presentationscheduled",
            "amount": "1234.56",
            "souscription_product": "Assurance emprunteur",
            "souscription_stage": "priced",
        },
        "objectWriteTraceId": "crm:d1:deal",
    }


@pytest.mark.parametrize(("cents", "text"), [(0, "0.00"), (5, "0.05"), (100, "1.00"), (123456, "1234.56")])
def test_amounts_in_cents_become_hubspot_decimals(cents: int, text: str) -> None:
    assert amount_text(cents) == text


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"subscription_id": "2026-42"}, "invalid_subscription_id"),
        ({"amount_cents": 12.5}, "invalid_amount"),
        ({"amount_cents": -1}, "invalid_amount"),
        ({"amount_cents": True}, "invalid_amount"),
        ({"stage": "won"}, "unknown_stage"),
        ({"product": ""}, "missing_product"),
    ],
)
def test_a_deal_with_bad_data_is_refused_before_sending(changes: dict[str, object], code: str) -> None:
    fields: dict[str, object] = {
        "subscription_id": "SUB-2026-000042",
        "product": "Assurance emprunteur",
        "amount_cents": 1000,
        "stage": "draft",
    }
    with pytest.raises(InvalidCrmRecord) as refused:
        DossierDeal(**{**fields, **changes})  # type: ignore[arg-type]
    assert refused.value.code == code


def test_date_versioned_paths_are_the_default_form() -> None:
    paths = HubSpotPaths("2026-03")
    assert paths.upsert("contacts") == "/crm/objects/2026-03/contacts/batch/upsert"
    assert paths.record("deals", "SUB-2026-000042") == "/crm/objects/2026-03/deals/SUB-2026-000042"
    assert (
        paths.default_association("deals", "51001", "contacts", "51000")
        == "/crm/objects/2026-03/deals/51001/associations/default/contacts/51000"
    )


def test_numeric_paths_put_default_associations_on_v4() -> None:
    paths = HubSpotPaths("v3")
    assert paths.upsert("deals") == "/crm/v3/objects/deals/batch/upsert"
    assert (
        paths.default_association("deals", "1", "contacts", "2")
        == "/crm/v4/objects/deals/1/associations/default/contacts/2"
    )


def test_an_unknown_api_version_is_refused() -> None:
    with pytest.raises(ValueError, match="AAAA-MM"):
        HubSpotPaths("v2")
