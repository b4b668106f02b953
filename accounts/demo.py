"""Demo sign-ins shared by ``seed_demo`` and ``rundemo``."""

import os

DEMO_LOGINS = {
    "admin": "admin@scrm.example",
    "operator": "operator@scrm.example",
    "clerk": "clerk.sh01@scrm.example",
    "member_phone": "13800138000",
}


def demo_password() -> str:
    return os.environ.get("SCRM_DEMO_PASSWORD", "scrm-demo-2026")
