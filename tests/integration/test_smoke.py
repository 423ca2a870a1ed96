from tests.support import Api


def test_health(anonymous: Api) -> None:
    assert anonymous.ok(anonymous.get("/health"))["status"] == "ok"


def test_tenant_can_create_a_line(api: Api) -> None:
    line = api.ok(api.post("/lines", {"name": "l1", "channels": 5}), 201)
    assert api.ok(api.get(f"/lines/{line['id']}"))["name"] == "l1"
