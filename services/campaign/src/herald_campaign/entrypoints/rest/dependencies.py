"""What a route needs: the services of this app and the caller's tenant."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Path, Request, Response, status
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

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
    description="An API token; it acts for the tenant it was registered for.",
)


async def authenticated_tenant(
    services: Annotated[CampaignServices, Depends(campaign_services)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str:
    """The tenant of the request's bearer token; 401 without a known token."""
    tenant_id = None
    if credentials is not None and credentials.credentials:
        tenant_id = await services.api_keys.tenant_of(credentials.credentials)
    if tenant_id is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"}
        )
    return tenant_id


def require_token_first(
    app: FastAPI, prefix: str = "/api/", exempt: tuple[str, ...] = (WEBHOOKS_PREFIX,)
) -> None:
    """Refuse unauthenticated ``/api`` requests before their body is read, so a request without
    a valid token always gets 401, whatever its body holds (FastAPI parses bodies before it
    runs route dependencies). Paths under ``exempt`` (the gateways' webhooks) authenticate by
    signature instead."""

    @app.middleware("http")
    async def check_token(request: Request, call_next: Any) -> Response:
        path = request.url.path
        if path.startswith(prefix) and not path.startswith(exempt):
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            services = campaign_services(request)
            known = scheme.lower() == "bearer" and token.strip()
            if not known or await services.api_keys.tenant_of(token.strip()) is None:
                return JSONResponse(
                    {"error": UNAUTHORIZED},
                    status_code=status.HTTP_401_UNAUTHORIZED,
                    headers={"WWW-Authenticate": "Bearer"},
                )
        response: Response = await call_next(request)
        return response


Services = Annotated[CampaignServices, Depends(campaign_services)]
Tenant = Annotated[str, Depends(authenticated_tenant)]
CampaignId = Annotated[str, Path(min_length=1, max_length=128, description="The campaign's id.")]
DeadLetterId = Annotated[
    str, Path(min_length=1, max_length=128, description="The dead letter's id.")
]
AccountId = Annotated[
    str, Path(min_length=1, max_length=128, description="The sender account's id.")
]
