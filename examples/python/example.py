"""Switchboard from Python, standard library only: a sender answering a request, a listener, and a gather.

Start a broker with the JSON-lines gateway on (`switchboard serve` listens on 127.0.0.1:7223), then:

    pip install ./clients/python      # the package switchboard_client, standard library only
    python3 examples/python/example.py --port 7223

Two connections play two programs: "service" owns the sender `clock` and two producers; "app" listens to the
clock's ticks, asks it a question, and gathers prices from the producers.
"""

import argparse
import threading
import time

from switchboard_client import Client, SwitchboardError


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7223)
    args = parser.parse_args()

    with Client(args.host, args.port, client="python-service") as service, \
            Client(args.host, args.port, client="python-app") as app:
        print(f"connected to {args.host}:{args.port}", flush=True)

        # A sender: declares its events and answers the request get_ticks.
        ticks = 0
        service.sender("clock", events=["tick", "#temperature"],
                       requests={"get_ticks": lambda data: {"ticks": ticks, "asked_by": data}})

        # A listener: each event arrives with the listen's own sequence number.
        three = threading.Event()

        def on_tick(event):
            print(f"event {event['sender']}/{event['event']} data={event['data']} seq={event['seq']}", flush=True)
            if event["seq"] == 3:
                three.set()

        app.listen("clock", "tick", on_tick)
        for _ in range(3):
            ticks += 1
            service.trigger("clock", "tick", ticks)
        if not three.wait(5):
            raise SystemExit("the three ticks did not arrive")

        # A request, answered by the service's handler; and one nobody can answer.
        answer = app.request("clock", "get_ticks", "app", timeout=2)
        print(f"reply get_ticks: ticks={answer['ticks']} asked_by={answer['asked_by']}", flush=True)
        try:
            app.request("nobody", "get_ticks", timeout=1)
        except SwitchboardError as error:
            print(f"request to nobody failed: {error.code}", flush=True)

        # A gather: every producer on the topic is asked at once; the slow one misses the ttl and comes late.
        service.producer("prices", lambda topic, data: {"price": 101.5, "currency": data}, name="fast")

        def slow(topic, data):
            time.sleep(1.0)
            return {"price": 99.0, "currency": data}

        service.producer("prices", slow, name="slow")
        gathered = app.gather("prices", "EUR", ttl=0.3)
        for producer, data in gathered.results:
            print(f"gather result from {producer}: {data['price']} {data['currency']}", flush=True)
        print(f"gathered: answered={gathered.answered} missing={gathered.missing} late={gathered.late}", flush=True)
        print(f"late results: {gathered.wait_late(1, timeout=5)}", flush=True)

        names = sorted(sender["name"] for sender in app.senders())
        print(f"senders: {', '.join(names)}", flush=True)
    print("done", flush=True)


if __name__ == "__main__":
    main()
