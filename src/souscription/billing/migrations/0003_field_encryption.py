"""IBANs sealed per field (issue 4): the data keys' table, the sealed IBAN and its last four characters on the
bank account and the mandate, then every stored IBAN encrypted."""

from typing import Any

from django.db import migrations, models

from souscription.platform.encryption.migration import open_column, seal_column

_MODELS = ("BankAccount", "Mandate")


def _columns(apps: Any, schema_editor: Any, name: str) -> dict[str, Any]:
    return {
        "model": apps.get_model("billing", name),
        "data_keys": apps.get_model("billing", "DataKey"),
        "database": schema_editor.connection.alias,
        "plaintext": "iban",
        "sealed": "iban_sealed",
        "field": "iban",
    }


def seal_ibans(apps: Any, schema_editor: Any) -> None:
    for name in _MODELS:
        model = apps.get_model("billing", name)
        for row in model._default_manager.db_manager(schema_editor.connection.alias).exclude(iban__isnull=True):
            row.iban_last4 = row.iban[-4:]
            row.save(update_fields=["iban_last4"])
        seal_column(**_columns(apps, schema_editor, name))


def open_ibans(apps: Any, schema_editor: Any) -> None:
    for name in _MODELS:
        open_column(**_columns(apps, schema_editor, name))


def _sealed_fields(model_name: str) -> list[migrations.operations.base.Operation]:
    return [
        migrations.AddField(
            model_name=model_name,
            name="iban_sealed",
            field=models.TextField(default="", verbose_name="IBAN (chiffré)"),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name=model_name,
            name="iban_last4",
            field=models.CharField(default="", max_length=4, verbose_name="IBAN (4 derniers caractères)"),
            preserve_default=False,
        ),
        # Nullable for the time of the move, so that reversing this migration can fill the column again.
        migrations.AlterField(
            model_name=model_name,
            name="iban",
            field=models.CharField(max_length=34, null=True, verbose_name="IBAN"),
        ),
    ]


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0002_bankaccount_ledgerentry_mandate_and_more"),
    ]

    operations = [
        migrations.CreateModel(
            name="DataKey",
            fields=[
                ("id", models.UUIDField(editable=False, primary_key=True, serialize=False)),
                ("subject", models.CharField(max_length=64, unique=True)),
                ("master_key_id", models.CharField(db_index=True, max_length=40)),
                ("wrapped", models.TextField()),
                ("created_at", models.DateTimeField()),
            ],
            options={
                "verbose_name": "clé de données",
            },
        ),
        *_sealed_fields("bankaccount"),
        *_sealed_fields("mandate"),
        migrations.RunPython(seal_ibans, open_ibans),
        migrations.RemoveField(model_name="bankaccount", name="iban"),
        migrations.RemoveField(model_name="mandate", name="iban"),
    ]
