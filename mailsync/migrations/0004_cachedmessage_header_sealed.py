from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("mailsync", "0003_sync_queue"),
    ]

    operations = [
        migrations.AddField(
            model_name="cachedmessage",
            name="header_sealed",
            field=models.BinaryField(default=b""),
        ),
    ]
