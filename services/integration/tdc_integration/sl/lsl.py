"""The LSL that signs a request, shown in the README and in the OpenAPI description."""

LSL_SNIPPET = """\
string BASE = "https://dreamerscave.example";   // the site's address
string OBJECT_ID = "slo_0123456789abcdef";      // from the admin who registered the object
string SECRET = "the-secret-shown-once";        // idem; keep the script no-modify

key signed_request(string method, string path_and_query, string body)
{
    string ts = (string)llGetUnixTime();
    string nonce = llGetSubString((string)llGenerateKey(), 0, 31);
    string sig = llHMAC(SECRET, method + "\\n" + path_and_query + "\\n" + ts + "\\n" + nonce + "\\n" + body, "sha256");
    return llHTTPRequest(BASE + path_and_query, [
        HTTP_METHOD, method,
        HTTP_MIMETYPE, "text/plain;charset=utf-8",
        HTTP_CUSTOM_HEADER, "X-SL-Object", OBJECT_ID,
        HTTP_CUSTOM_HEADER, "X-SL-Timestamp", ts,
        HTTP_CUSTOM_HEADER, "X-SL-Nonce", nonce,
        HTTP_CUSTOM_HEADER, "X-SL-Signature", sig
    ], body);
}

default
{
    touch_start(integer n)
    {
        signed_request("GET", "/api/v1/sl/board?location=main-stage&format=text", "");
        // signed_request("POST", "/api/v1/sl/checkin",
        //     llList2Json(JSON_OBJECT, ["event", "winter-ball", "avatar_key", llDetectedKey(0),
        //                               "avatar_name", llDetectedName(0)]));
    }

    http_response(key id, integer status, list meta, string body)
    {
        if (status == 200) llSetText(body, <1.0, 1.0, 1.0>, 1.0);
        else if (status == 429) llOwnerSay("busy, retry in " + llJsonGetValue(body, ["retry_after"]) + " s");
        else llOwnerSay((string)status + " " + llJsonGetValue(body, ["error"]));
    }
}
"""

SIGNING = (
    "Signed by the object: headers `X-SL-Object` (its id), `X-SL-Timestamp` (`llGetUnixTime()`, within 300 s), "
    "`X-SL-Nonce` (1-32 characters, never reused) and `X-SL-Signature` = base64(HMAC-SHA256(secret, "
    'METHOD + "\\n" + PATH_AND_QUERY + "\\n" + TIMESTAMP + "\\n" + NONCE + "\\n" + BODY)), which is what '
    '`llHMAC(secret, message, "sha256")` returns. Refusals are 401 with a short reason; more than 30 requests in '
    "20 s is 429 with `retry_after` (seconds) in the body.\n\n```lsl\n" + LSL_SNIPPET + "```\n"
)
