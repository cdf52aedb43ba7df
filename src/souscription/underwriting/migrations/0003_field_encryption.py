"""Health answers sealed per field (issue 4): the data keys' table, then every stored declaration encrypted."""

import json
from typing import Any

from django.db import migrations, models

from souscription.platform.encryption.migration import open_column, seal_column


def _columns(apps: Any, schema_editor: Any) -> dict[str, Any]:
    return {
        "model": apps.get_model("underwriting", "HealthDeclaration"),
        "data_keys": apps.get_model("underwriting", "DataKey"),
        "database": schema_editor.connection.alias,
        "plaintext": "answers",
        "sealed": "answers_sealed",
        "field": "answers",
    }


def seal_answers(apps: Any, schema_editor: Any) -> None:
    seal_column(
        **_columns(apps, schema_editor), encode=lambda answers: json.dumps(answers, ensure_ascii=False, sort_keys=True)
    )


def open_answers(apps: Any, schema_editor: Any) -> None:
    open_column(**_columns(apps, schema_editor), decode=json.loads)


class Migration(migrations.Migration):
    dependencies = [
        ("underwriting", "0002_healthdeclaration_riskestimate_and_more"),
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
        migrations.AddField(
            model_name="healthdeclaration",
            name="answers_sealed",
            field=models.TextField(default="", verbose_name="réponses de santé (chiffrées)"),
            preserve_default=False,
        ),
        # Nullable for the time of the move, so that reversing this migration can fill the column again.
        migrations.AlterField(
            model_name="healthdeclaration",
            name="answers",
            field=models.JSONField(null=True, verbose_name="réponses de santé"),
        ),
        migrations.RunPython(seal_answers, open_answers),
        migrations.RemoveField(
            model_name="healthdeclaration",
            name="answers",
        ),
    ]
