"""Accounts of the platform (platform database). Staff carry a role; portal customers carry none, ever."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _

from souscription.identity.domain import Role

ROLE_CHOICES = [(role.value, role.label) for role in Role]


class UserManager(BaseUserManager["User"]):
    def create_user(self, email: str, password: str | None = None, **fields: Any) -> User:
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields: Any) -> User:
        fields.setdefault("role", Role.IT_MANAGER.value)
        return self.create_user(email, password, is_staff=True, is_superuser=True, **fields)


class AccountType(models.TextChoices):
    STAFF = "staff", _("personnel")
    CUSTOMER = "customer", _("client")


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField(_("adresse e-mail"), unique=True)
    first_name = models.CharField(_("prénom"), max_length=150, blank=True)
    last_name = models.CharField(_("nom"), max_length=150, blank=True)
    role = models.CharField(_("rôle"), max_length=32, choices=ROLE_CHOICES, blank=True)
    is_active = models.BooleanField(_("actif"), default=True)
    is_staff = models.BooleanField(_("accès administration"), default=False)
    date_joined = models.DateTimeField(_("créé le"), default=timezone.now)
    # Part of every session's authentication hash: raising it ends all of the user's sessions at once (logout,
    # password change, an IT manager's "end sessions"), on every device, without scanning the session table.
    session_version = models.PositiveIntegerField(_("version des sessions"), default=0)
    account_type = models.CharField(
        _("type de compte"), max_length=16, choices=AccountType.choices, default=AccountType.STAFF
    )
    email_verified_at = models.DateTimeField(_("adresse vérifiée le"), null=True, blank=True)

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        verbose_name = _("utilisateur")
        verbose_name_plural = _("utilisateurs")

    def __str__(self) -> str:
        return self.email

    @property
    def is_customer(self) -> bool:
        return self.account_type == AccountType.CUSTOMER

    @property
    def staff_role(self) -> Role | None:
        """None for no role and for a value this version does not know (a newer release's role, a typo in the
        database): an unknown role gets nothing, it never fails a request. A customer account has no role even if
        one were written on its row: the access policy gives nothing to None."""
        if self.is_customer:
            return None
        try:
            return Role(self.role) if self.role else None
        except ValueError:
            return None

    def _get_session_auth_hash(self, secret: str | None = None) -> str:
        # Django's own hash covers the password only; both the current hash and the SECRET_KEY_FALLBACKS ones go
        # through this method, so the session version is mixed in once, here.
        return salted_hmac(
            "souscription.identity.User.get_session_auth_hash",
            f"{self.password}:{self.session_version}",
            secret=secret,
            algorithm="sha256",
        ).hexdigest()

    def get_full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or self.email


class SignInThrottle(models.Model):
    """Failed password attempts per sign-in name, kept in the database so that every web process sees them."""

    key = models.CharField(_("identifiant"), max_length=254, unique=True)
    failures = models.PositiveIntegerField(_("échecs"), default=0)
    first_failure_at = models.DateTimeField(_("premier échec"))
    locked_until = models.DateTimeField(_("bloqué jusqu'au"), null=True, blank=True)

    class Meta:
        verbose_name = _("limitation de connexion")

    def __str__(self) -> str:
        return self.key


class OneTimeSecret(models.Model):
    """A code or a link token sent to a customer. Only a keyed digest is kept; it works once, until it expires."""

    class Purpose(models.TextChoices):
        SIGN_IN_CODE = "sign_in_code", _("code de connexion")
        EMAIL_VERIFICATION = "email_verification", _("vérification de l'adresse")
        PASSWORD_RESET = "password_reset", _("nouveau mot de passe")

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="one_time_secrets")
    purpose = models.CharField(_("usage"), max_length=32, choices=Purpose.choices)
    digest = models.CharField(_("empreinte"), max_length=64, db_index=True)
    created_at = models.DateTimeField(_("créé le"))
    expires_at = models.DateTimeField(_("expire le"))
    attempts = models.PositiveSmallIntegerField(_("essais"), default=0)
    used_at = models.DateTimeField(_("utilisé ou remplacé le"), null=True, blank=True)

    class Meta:
        verbose_name = _("code à usage unique")
        indexes = (models.Index(fields=("user", "purpose", "created_at")),)

    def __str__(self) -> str:
        return f"{self.purpose} #{self.pk}"
