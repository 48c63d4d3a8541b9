"""The admin user list by keyset cursor: complete and in id order across pages, bad cursors 422."""

from __future__ import annotations

from auth_testkit import Accounts, unique_email

from tdc_shared.pagination import encode_cursor


async def test_cursor_pages_cover_the_list_while_users_register(client, accounts: Accounts):
    admin = await accounts.admin()
    tag = unique_email("paged").split("@")[0]
    for n in range(3):
        await accounts.register(email=f"{tag}.{n}@example.com")
    url = "/api/v1/admin/users"
    first = (await client.get(url, headers=admin["headers"], params={"q": tag, "per_page": 2})).json()
    cursor = first["meta"]["pagination"]["next_cursor"]
    assert cursor and first["meta"]["pagination"]["has_more"] is True
    await accounts.register(email=f"{tag}.late@example.com")  # between the page reads
    rest = (await client.get(url, headers=admin["headers"], params={"q": tag, "per_page": 2, "cursor": cursor})).json()
    ids = [u["id"] for u in first["data"] + rest["data"]]
    assert len(ids) == 4 and ids == sorted(ids) and len(set(ids)) == 4
    assert rest["meta"]["pagination"]["page"] is None and rest["meta"]["pagination"]["total"] == 4
    assert rest["meta"]["pagination"]["has_more"] is False and rest["meta"]["pagination"]["next_cursor"] is None
    for bad in ("garbage", encode_cursor("events", [1]), encode_cursor("auth.users", ["1"])):
        response = await client.get(url, headers=admin["headers"], params={"cursor": bad})
        assert response.status_code == 422 and "cursor" in response.json()["errors"]
