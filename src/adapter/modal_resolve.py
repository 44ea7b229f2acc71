# Resolves a Modal web endpoint's URL with Modal's own SDK.
# Run as: python -c <this script> <app> <function> <environment or "">
# Prints exactly one JSON line on stdout:
#   {"url": "https://..."}
#   {"error": "not_found|sdk_missing|no_token|no_web_url|other", "message": "..."}
# Exit status is 0 whenever that line was printed.
import json
import sys


def answer(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()
    sys.exit(0)


app, function, environment = sys.argv[1], sys.argv[2], sys.argv[3] or None

try:
    import modal
    import modal.exception as modal_exception
except ImportError as e:
    answer({
        "error": "sdk_missing",
        "message": "modal SDK not importable by %s (%s): pip install modal" % (sys.executable, e),
    })

NotFoundError = getattr(modal_exception, "NotFoundError", ())
AuthError = getattr(modal_exception, "AuthError", ())

try:
    url = modal.Function.from_name(app, function, environment_name=environment).get_web_url()
except NotFoundError as e:
    answer({"error": "not_found", "message": "%s (check the app, function and environment names, and that the app is deployed)" % e})
except AuthError as e:
    answer({"error": "no_token", "message": "%s (run `modal token new` or set MODAL_TOKEN_ID and MODAL_TOKEN_SECRET)" % e})
except Exception as e:  # the SDK's other failures: network, invalid names...
    answer({"error": "other", "message": "%s: %s" % (type(e).__name__, e)})

if not url:
    answer({"error": "no_web_url", "message": "the function is not a web endpoint (decorate it with @modal.asgi_app, @modal.fastapi_endpoint or @modal.web_server)"})
answer({"url": url})
