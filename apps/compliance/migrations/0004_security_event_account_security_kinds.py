from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("compliance", "0003_security_event_reveal_kinds"),
    ]

    operations = [
        migrations.AlterField(
            model_name="securityevent",
            name="kind",
            field=models.CharField(
                choices=[
                    ("login_locked_out", "Sign-in locked out"),
                    ("login_unlocked", "Sign-in unlocked by staff"),
                    ("mfa_enrolled", "Authenticator enrolled"),
                    ("mfa_failed", "Wrong one-time code"),
                    ("pii_revealed", "Personal data revealed"),
                    ("transcript_revealed", "Unmasked transcript exported"),
                    ("mfa_removed", "Authenticator removed"),
                    ("password_changed", "Password changed"),
                    ("password_reset_requested", "Password reset link sent"),
                    ("password_reset", "Password reset by emailed link"),
                    ("signed_out_everywhere", "Signed out everywhere"),
                ],
                max_length=40,
            ),
        ),
    ]
