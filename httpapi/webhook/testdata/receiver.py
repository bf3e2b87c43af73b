# A webhook receiver for promo in Python, standard library only: it checks
# Promo-Signature and prints each event's seq and type. README.md shows it.
#   PROMO_WEBHOOK_SECRET=whsec_... python3 receiver.py 8081
import hashlib, hmac, http.server, json, os, sys, time

SECRET = os.environ["PROMO_WEBHOOK_SECRET"].encode()

def verified(header, body, tolerance=300):
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    t, sig = parts.get("t", ""), parts.get("v1", "")
    want = hmac.new(SECRET, t.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(want, sig) and t.isdigit() and abs(time.time() - int(t)) < tolerance

class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if not verified(self.headers.get("Promo-Signature", ""), body):
            self.send_response(400)
            self.end_headers()
            return
        event = json.loads(body)
        # Deliveries are at least once: de-duplicate by event["seq"].
        print(event["seq"], event["type"], flush=True)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass

http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Receiver).serve_forever()
