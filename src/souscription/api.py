"""The JSON API, version 1, mounted under `/api/v1`. Each context adds its own router here."""

from __future__ import annotations

import structlog
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import HttpError, ValidationError

from souscription.audit.context import record_refused_access
from souscription.gdpr.api import router as gdpr_router
from souscription.identity.api import router as identity_router
from souscription.kernel.errors import DomainError, NotFound, Problem, RateLimited
from souscription.platform.api import router as platform_router
from souscription.platform.problems import problems_body, problems_from_validation, status_for
from souscription.portal.api import router as portal_router
from souscription.subscriptions.api import billing_router, underwriting_router
from souscription.subscriptions.api import router as dossiers_router
from souscription.subscriptions.webhooks import router as webhooks_router

log = structlog.get_logger(__name__)

api = NinjaAPI(
    title="Souscription API",
    version="1",
    description=(
        "API de la plateforme de souscription. Toute erreur suit un seul modèle : "
        '`{"errors": [{"code": "...", "message": "...", "field": "..."}]}` : '
        "`code` est stable pour les machines, `message` est en français pour les personnes, "
        "`field` désigne le champ fautif. "
        "Tout POST accepte un en-tête `Idempotency-Key` : même clé et même corps, même réponse ; "
        "même clé et autre corps, erreur `idempotency_key_reused`."
    ),
    urls_namespace="api-v1",
    docs_url="/docs",
    openapi_url="/openapi.json",
)
api.add_router("/", platform_router)
api.add_router("/", identity_router)
api.add_router("/", dossiers_router)
api.add_router("/", underwriting_router)
api.add_router("/", billing_router)
api.add_router("/", gdpr_router)
api.add_router("/", portal_router)
api.add_router("/", webhooks_router)


@api.exception_handler(DomainError)
def _domain_error(request: HttpRequest, error: DomainError) -> HttpResponse:
    status = status_for(error)
    if status in {401, 403}:
        record_refused_access(path=request.path, method=request.method or "", code=error.code)
    response = api.create_response(request, problems_body(error.problems), status=status)
    if isinstance(error, RateLimited):
        response["Retry-After"] = str(error.retry_after_seconds)
    return response


@api.exception_handler(ValidationError)
def _validation_error(request: HttpRequest, error: ValidationError) -> HttpResponse:
    problems = problems_from_validation(error.errors)
    if all(tuple(item.get("loc", ()))[:1] == ("path",) for item in error.errors):
        # A path that cannot name a resource (`/staff-users/abc`) names none: 404, which every operation with a
        # path parameter documents (schemathesis found the undocumented 422).
        problems = [Problem(NotFound.code, NotFound.message, problem.field) for problem in problems]
        return api.create_response(request, problems_body(problems), status=404)
    return api.create_response(request, problems_body(problems), status=422)


_HTTP_PROBLEMS = {
    400: Problem("invalid_body", "La requête est mal formée : envoyez un objet JSON valide."),
    401: Problem("not_authenticated", "Connectez-vous pour accéder à cette ressource."),
    403: Problem("permission_denied", "Votre rôle ne vous permet pas cette action."),
    405: Problem("method_not_allowed", "Cette méthode n'est pas acceptée sur cette ressource."),
    429: Problem("too_many_requests", "Trop de requêtes : réessayez plus tard."),
}


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, error: HttpError) -> HttpResponse:
    problem = _HTTP_PROBLEMS.get(error.status_code, Problem("http_error", "La requête n'a pas pu être traitée."))
    # Ninja answers 400 to a body it cannot decode (not UTF-8, not JSON); bad input is a 422 in this API's
    # contract, the status every operation that takes a body documents (found by schemathesis).
    status = 422 if error.status_code == 400 else error.status_code
    return api.create_response(request, problems_body([problem]), status=status)


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, error: Http404) -> HttpResponse:
    return api.create_response(request, problems_body(NotFound().problems), status=404)


@api.exception_handler(Exception)
def _unexpected(request: HttpRequest, error: Exception) -> HttpResponse:
    # The cause goes to the logs with the request id; the client gets no internals.
    log.exception("api.unexpected_error", error_type=type(error).__name__)
    problem = Problem("internal_error", "Une erreur inattendue est survenue. Réessayez ou contactez le support.")
    return api.create_response(request, problems_body([problem]), status=500)
