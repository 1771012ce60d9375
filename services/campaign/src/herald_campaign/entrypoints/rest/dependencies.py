"""What a route needs: the services of this app and the caller's tenant."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Path, Request, Response, status
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from herald_campaign.domain.callers import Caller
from herald_campaign.entrypoints.services import CampaignServices

WEBHOOKS_PREFIX = "/api/webhooks/"
UNAUTHORIZED = "missing or invalid bearer token"


def install_services(app: FastAPI, services: CampaignServices) -> None:
    app.state.services = services


def campaign_services(request: Request) -> CampaignServices:
    services = getattr(request.app.state, "services", None)
    if not isinstance(services, CampaignServices):
        raise RuntimeError("the campaign services are not installed on this app")
    return services


bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiToken",
    description=(
        "An API key. A tenant key acts for its tenant on the tenant routes; an operator "
        "credential (HERALD_ADMIN_TOKEN or an operator key) acts on /api/admin routes only."
    ),
)

OPERATORS_ONLY = "this route is for operators; a tenant key cannot use it"
TENANTS_ONLY = "this route acts for a tenant; use a tenant key (operators use /api/admin)"


def _unauthorized() -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"}
    )


async def authenticated_caller(
    services: Annotated[CampaignServices, Depends(campaign_services)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Caller:
    """Who the request's bearer token acts for; 401 without a known token."""
    caller = None
    if credentials is not None and credentials.credentials:
        caller = await services.api_keys.caller_of(credentials.credentials)
    if caller is None:
        raise _unauthorized()
    return caller


async def authenticated_tenant(
    caller: Annotated[Caller, Depends(authenticated_caller)],
) -> str:
    """The tenant of the request's key; 403 for an operator credential."""
    if caller.is_operator or caller.tenant_id is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, TENANTS_ONLY)
    return caller.tenant_id


async def authenticated_operator(
    caller: Annotated[Caller, Depends(authenticated_caller)],
) -> Caller:
    """The operator behind the request; 403 for a tenant key."""
    if not caller.is_operator:
        raise HTTPException(status.HTTP_403_FORBIDDEN, OPERATORS_ONLY)
    return caller


def require_token_first(
    app: FastAPI, prefix: str = "/api/", exempt: tuple[str, ...] = (WEBHOOKS_PREFIX,)
) -> None:
    """Refuse unauthenticated ``/api`` requests before their body is read, so a request without
    a valid token always gets 401, whatever its body holds (FastAPI parses bodies before it
    runs route dependencies). Paths under ``exempt`` (the gateways' webhooks) authenticate by
    signature instead. Which role a route wants is checked by its own dependency."""

    @app.middleware("http")
    async def check_token(request: Request, call_next: Any) -> Response:
        path = request.url.path
        if path.startswith(prefix) and not path.startswith(exempt):
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            services = campaign_services(request)
            known = scheme.lower() == "bearer" and token.strip()
            if not known or await services.api_keys.caller_of(token.strip()) is None:
                return JSONResponse(
                    {"error": UNAUTHORIZED},
                    status_code=status.HTTP_401_UNAUTHORIZED,
                    headers={"WWW-Authenticate": "Bearer"},
                )
        response: Response = await call_next(request)
        return response


Services = Annotated[CampaignServices, Depends(campaign_services)]
Tenant = Annotated[str, Depends(authenticated_tenant)]
Operator = Annotated[Caller, Depends(authenticated_operator)]
CampaignId = Annotated[str, Path(min_length=1, max_length=128, description="The campaign's id.")]
DeadLetterId = Annotated[
    str, Path(min_length=1, max_length=128, description="The dead letter's id.")
]
AccountId = Annotated[
    str, Path(min_length=1, max_length=128, description="The sender account's id.")
]
