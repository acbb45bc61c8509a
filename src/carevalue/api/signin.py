"""Sign-in: a token for a name and password (rate limited, every attempt audited), sign-out, who am I."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from carevalue.api.auth import COOKIE, Principal, audit, get_principal, token_of
from carevalue.api.problems import ApiProblem, responses
from carevalue.api.state import get_state, remote

router = APIRouter(prefix="/auth", tags=["sign-in"])


class SignIn(BaseModel):
    username: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=1000)
    cookie: bool = Field(False, description="Also set an HttpOnly, SameSite=Strict session cookie (browsers).")


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: datetime
    role: str


class Me(BaseModel):
    user: str
    role: str
    patient_id: str | None
    ipu_ids: list[str]


@router.post("/token", response_model=Token, responses=responses(401, 422, 429))
def sign_in(body: SignIn, request: Request, response: Response) -> Token:
    """Exchange a name and password for a token that expires; too many failures answer 429."""
    st = get_state(request)
    if st.users.recent_failures(body.username, remote(request), st.signin_window) >= st.signin_limit:
        wait = int(st.signin_window.total_seconds())
        audit(request, None, f"sign-in {body.username}", "denied", status=429, detail="too many failed sign-ins")
        raise ApiProblem(429, f"too many failed sign-ins for this name or address; try again in {wait // 60} minutes",
                         headers={"Retry-After": str(wait)})
    user = st.users.verify(body.username, body.password, remote(request))
    if user is None:
        audit(request, None, f"sign-in {body.username}", "denied", status=401, detail="wrong name or password")
        raise ApiProblem(401, "wrong name or password", headers={"WWW-Authenticate": "Bearer"})
    token, expires = st.users.issue(user.username)
    audit(request, Principal(user.username, user.role), "sign-in", "allowed", status=200)
    if body.cookie:
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict", secure=request.url.scheme == "https",
                            expires=expires)
    return Token(access_token=token, expires_at=expires, role=user.role.value)


@router.post("/signout", status_code=204, responses=responses(401))
def sign_out(request: Request, who: Annotated[Principal, Depends(get_principal)]) -> Response:
    """End this token's session at once."""
    token = token_of(request, None) or request.headers.get("authorization", "").partition(" ")[2]
    get_state(request).users.revoke(token)
    audit(request, who, "sign-out", "allowed", status=204)
    out = Response(status_code=204)
    out.delete_cookie(COOKIE)
    return out


@router.get("/me", response_model=Me, responses=responses(401))
def me(who: Annotated[Principal, Depends(get_principal)]) -> Me:
    """The signed-in user, role, and (patients) patient id or (clinicians) IPUs."""
    return Me(user=who.user, role=who.role.value, patient_id=who.patient_id, ipu_ids=list(who.ipu_ids))
