"""A Switchboard client for Python, on the broker's JSON-lines gateway, using only the standard library.

The gateway speaks one UTF-8 JSON object per line each way (docs/protocol.md, "JSON-lines gateway"). This module
wraps it: a reader thread routes each line the broker writes to the call waiting for it (by "id"), to a listen's
callback (by "listen"), or to a request / produce handler (by "rid").

    from switchboard_client import Client
    with Client("127.0.0.1", 7223, client="my-script") as bus:
        bus.sender("clock", events=["tick"], requests={"now": lambda data: {"ticks": 3}})
        bus.listen("clock", "tick", lambda event: print(event["data"], event["seq"]))
        bus.trigger("clock", "tick", 1)
        print(bus.request("clock", "now"))

Callbacks and handlers never run on the reader thread: each listen's callbacks run one at a time, in order, on one
dispatcher thread; each incoming request or produce runs on a thread of its own, so a handler may itself call the bus.
"""

import itertools
import json
import queue
import socket
import threading
import time
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

__all__ = ["Client", "SwitchboardError", "Gather"]


class SwitchboardError(Exception):
    """The broker refused a line or a request failed: `code` is stable (no_sender, no_handler, handler_error,
    timeout, invalid_name, ...), `message` says what happened."""

    def __init__(self, code, message):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class Gather:
    """A gather: `results` as (producer, data) pairs in arrival order, then `answered`, `missing`, `failed` once
    it ended. `late` counts results that arrived after the end (it can still grow: see `wait_late`)."""

    def __init__(self, topic):
        self.topic = topic
        self.results = []
        self.answered = []
        self.missing = []
        self.failed = {}
        self.late = 0
        self._changed = threading.Condition()

    def wait_late(self, count: int, timeout: Optional[float]) -> int:
        """Waits until at least `count` late results were reported; returns the late count."""
        with self._changed:
            self._changed.wait_for(lambda: self.late >= count, timeout)
            return self.late

    def _on_line(self, line):
        with self._changed:
            op = line.get("op")
            if op == "result":
                self.results.append((line["producer"], line.get("data")))
            elif op == "gathered":
                self.answered = line["answered"]
                self.missing = line["missing"]
                self.failed = line.get("failed", {})
                self.late = line.get("late", 0)
            elif op == "late":
                self.late = line["late"]
            self._changed.notify_all()


class _Waiter:
    """One call waiting for the line that answers it."""

    def __init__(self):
        self.event = threading.Event()
        self.answer = None


class Client:
    """A connection to a Switchboard broker's JSON-lines gateway (default port 7223)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 7223, client: Optional[str] = None,
                 token: Optional[str] = None, timeout: float = 5.0, reconnect: bool = True) -> None:
        """Connects now. With `reconnect`, a connection that drops (anything but `close()`) is opened again, retrying
        with a growing pause of up to 2 s, and every sender, listen, results listen and producer this client declared
        is declared again on it; calls in flight when it dropped raise ConnectionError."""
        self.timeout = timeout
        self._address = (host, port)
        self._reconnect = reconnect
        self._closing = False
        self._declared = {}  # ("sender", name) / ("listen", id) / ("producer", name) -> the line to send again
        self._hello = None
        self._socket = socket.create_connection((host, port), timeout=timeout)
        self._socket.settimeout(None)
        self._reader = self._socket.makefile("rb")
        self._write_lock = threading.Lock()
        self._ids = itertools.count(1)
        self._waiters = {}
        self._waiters_lock = threading.Lock()
        self._listens = {}
        self._requests = {}  # sender name -> {request name: handler}, "*" for the default handler
        self._producers = {}  # producer name -> handler
        self._gathers = {}  # gather id -> Gather
        self._closed = threading.Event()
        self._events = queue.Queue()
        self._thread = threading.Thread(target=self._read_loop, name="switchboard-reader", daemon=True)
        self._thread.start()
        self._dispatcher = threading.Thread(target=self._dispatch_loop, name="switchboard-listens", daemon=True)
        self._dispatcher.start()
        if client is not None or token is not None:
            self._hello = {"op": "hello", "client": client, "token": token}
            self.call(dict(self._hello))

    # ---- the verbs -------------------------------------------------------------------------------------------

    def sender(self, name: str, events: Iterable[str] = (), requests: Optional[Dict[str, Callable[[Any], Any]]] = None,
               default: Optional[Callable[[str, Any], Any]] = None, will: Optional[Tuple[str, Any]] = None) -> None:
        """Declares a sender. `requests` maps request names to handlers `handler(data) -> answer` (raise to fail);
        `default` answers any other request name as `default(name, data)`; `will` is `(event, data)`: the event
        the broker triggers for this sender if the connection dies without `close()`."""
        requests = dict(requests or {})
        line = {"op": "sender", "name": name, "events": list(events), "requests": list(requests)}
        if default is not None:
            line["default_handler"] = True
            requests["*"] = default
        if will is not None:
            line["will"] = {"event": will[0], "data": will[1]}
        self._requests[name] = requests
        self.call(line)
        self._declared[("sender", name)] = line

    def unsender(self, name: str) -> None:
        self.call({"op": "unsender", "name": name})
        self._requests.pop(name, None)
        self._declared.pop(("sender", name), None)

    def trigger(self, sender: str, event: Union[str, Sequence[str]], data: Any = None, retain: bool = False,
                wait: bool = False) -> None:
        """Triggers `event` (a name, or a list of channel events) as `sender`. Fire and forget unless `wait`:
        then it returns once the broker accepted it, or raises."""
        line = {"op": "trigger", "sender": sender, "data": data}
        if isinstance(event, (list, tuple)):
            line["events"] = list(event)
        else:
            line["event"] = event
        if retain:
            line["retain"] = True
        if wait:
            self.call(line)
        else:
            self._send(line)

    def listen(self, sender: Optional[str] = None, event: Optional[str] = None,
               callback: Optional[Callable[[Dict[str, Any]], None]] = None, group: Optional[str] = None) -> Any:
        """Listens to `event` (a pattern; None = any) from `sender` (None = any). Each delivery is a dict with
        sender, event, data and seq (1, 2, 3... per listen). With a `callback`, it is called with each one;
        without, they go to a `queue.Queue` returned with the listen id. Returns the listen id (and the queue)."""
        line: Dict[str, Any] = {"op": "listen", "sender": sender, "event": event}
        if group is not None:
            line["group"] = group
        return self._subscribe(f"L{next(self._ids)}", line, callback)

    def results(self, topic: str, callback: Optional[Callable[[Dict[str, Any]], None]] = None) -> Any:
        """Listens to the results of every gather on `topic`, whoever gathered. Each is a dict with producer,
        topic, data and seq. Like `listen`: returns the listen id (and a queue without a `callback`); end it
        with `unlisten`."""
        return self._subscribe(f"R{next(self._ids)}", {"op": "results", "topic": topic}, callback)

    def _subscribe(self, listen_id: str, line: Dict[str, Any],
                   callback: Optional[Callable[[Dict[str, Any]], None]]) -> Any:
        """Sends a listen or results `line` under `listen_id`, its deliveries going to `callback` or a new queue;
        kept to be declared again after a reconnect. Returns what `listen` and `results` return."""
        target = callback if callback is not None else queue.Queue()
        self._listens[listen_id] = target
        try:
            self.call(line, listen_id)
        except Exception:
            self._listens.pop(listen_id, None)
            raise
        self._declared[("listen", listen_id)] = line
        return listen_id if callback is not None else (listen_id, target)

    def unlisten(self, listen_id: str) -> None:
        self.call({"op": "unlisten", "listen": listen_id})
        self._listens.pop(listen_id, None)
        self._declared.pop(("listen", listen_id), None)

    def request(self, sender: str, request: str, data: Any = None, timeout: Optional[float] = None) -> Any:
        """Asks `sender` and returns its answer's data; raises SwitchboardError (no_sender, no_handler,
        handler_error, timeout)."""
        timeout = self.timeout if timeout is None else timeout
        answer = self.call({"op": "request", "sender": sender, "request": request, "data": data,
                            "timeout_ms": max(1, int(timeout * 1000))}, wait=timeout + 5)
        return answer.get("data")

    def producer(self, topics: Union[str, Iterable[str]], handler: Callable[[str, Any], Any], name: Optional[str] = None,
                 group: Optional[str] = None) -> str:
        """Registers a producer on `topics`: `handler(topic, data) -> result` answers each gather (raise to fail).
        Returns its name (the broker picks one when `name` is None)."""
        line = {"op": "producer", "topics": [topics] if isinstance(topics, str) else list(topics)}
        if name is not None:
            line["name"] = name
        if group is not None:
            line["group"] = group
        answer = self.call(line)
        self._producers[answer["name"]] = handler
        line["name"] = answer["name"]  # declared again under the same name after a reconnect
        self._declared[("producer", answer["name"])] = line
        return answer["name"]

    def topics(self, producer: str, add: Iterable[str] = (), remove: Iterable[str] = ()) -> None:
        """Adds and removes topics of a live producer of this connection; its other topics are answered throughout."""
        self.call({"op": "topics", "producer": producer, "add": list(add), "remove": list(remove)})
        declared = self._declared.get(("producer", producer))
        if declared is not None:
            declared["topics"] = [t for t in declared["topics"] if t not in remove] + \
                [t for t in add if t not in declared["topics"]]

    def unproducer(self, name: str) -> None:
        self.call({"op": "unproducer", "name": name})
        self._producers.pop(name, None)
        self._declared.pop(("producer", name), None)

    def gather(self, topic: str, data: Any = None, ttl: float = 0.3) -> "Gather":
        """Asks every producer on `topic` at once and returns a `Gather` once every one answered or `ttl`
        (seconds) passed."""
        result = Gather(topic)
        gather_id = next(self._ids)
        self._gathers[gather_id] = result  # results, the end, and late notices that come after it
        self.call({"op": "gather", "topic": topic, "data": data, "ttl_ms": max(1, int(ttl * 1000))},
                  gather_id, wait=ttl + self.timeout)
        return result

    def senders(self) -> List[Dict[str, Any]]:
        """The senders online: a list of {"name", "events", "requests"}."""
        return self.call({"op": "senders"})["senders"]

    def ping(self) -> None:
        self.call({"op": "ping"})

    def close(self) -> None:
        """Leaves cleanly (no last wills fire) and closes the connection."""
        if self._closed.is_set():
            return
        self._closing = True
        try:
            self.call({"op": "bye"}, wait=2)
        except (SwitchboardError, OSError, TimeoutError):
            pass
        self._shutdown()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- lines in and out ------------------------------------------------------------------------------------

    def call(self, line: Dict[str, Any], line_id: Any = None, wait: Optional[float] = None) -> Dict[str, Any]:
        """Sends `line` with an id and returns the line that answers it; raises SwitchboardError for an error."""
        waiter = _Waiter()
        line_id = self._register(waiter, line_id)
        line["id"] = line_id
        self._send(line)
        return self._wait(waiter, line_id, self.timeout if wait is None else wait)

    def _register(self, waiter, line_id=None):
        line_id = line_id if line_id is not None else next(self._ids)
        with self._waiters_lock:
            self._waiters[line_id] = waiter
        return line_id

    def _wait(self, waiter, line_id, timeout):
        if not waiter.event.wait(timeout):
            with self._waiters_lock:
                self._waiters.pop(line_id, None)
            raise TimeoutError(f"no answer from the broker to id {line_id} within {timeout} s")
        answer = waiter.answer
        if answer is None:
            raise ConnectionError("the connection to the broker closed")
        if "error" in answer:
            raise SwitchboardError(answer["error"]["code"], answer["error"]["message"])
        return answer

    def _send(self, line):
        data = (json.dumps(line, separators=(",", ":")) + "\n").encode("utf-8")
        with self._write_lock:
            self._socket.sendall(data)

    def _read_loop(self):
        while True:
            try:
                for raw in self._reader:
                    self._on_line(json.loads(raw))
            except (OSError, ValueError):
                pass
            with self._waiters_lock:
                waiters, self._waiters = list(self._waiters.values()), {}
            for waiter in waiters:
                waiter.event.set()  # no answer: the call raises ConnectionError
            if self._closing or not self._reconnect or not self._connect_again():
                break
        self._closed.set()
        self._events.put(None)

    def _connect_again(self):
        """Opens a new connection (retrying until it opens or `close()` is called) and declares everything again on
        a thread of its own, since the answers arrive on this, the reader thread."""
        pause = 0.05
        while not self._closing:
            try:
                fresh = socket.create_connection(self._address, timeout=self.timeout)
            except OSError:
                time.sleep(pause)
                pause = min(2.0, pause * 2)
                continue
            fresh.settimeout(None)
            old, self._socket = self._socket, fresh
            old.close()
            self._reader = fresh.makefile("rb")
            threading.Thread(target=self._declare_again, name="switchboard-redeclare", daemon=True).start()
            return True
        return False

    def _declare_again(self):
        lines = ([(None, self._hello)] if self._hello is not None else []) + list(self._declared.items())
        for key, line in lines:
            try:
                self.call(dict(line), key[1] if key is not None and key[0] == "listen" else None)
            except (SwitchboardError, OSError, TimeoutError) as error:
                print(f"switchboard: declaring {line['op']} again after a reconnect failed: {error}")

    def _on_line(self, line):
        op = line.get("op")
        if op == "ping":
            # The broker's heartbeat (after a hello): any line proves we are alive; pong says so without side effects.
            self._send({"op": "pong"})
            return
        if op == "event" or (op == "result" and "listen" in line):
            self._events.put(line)
        elif op in ("request", "produce"):
            threading.Thread(target=self._answer, args=(line,), daemon=True).start()
        elif "id" in line:
            gather = self._gathers.get(line["id"])
            if gather is not None and op in ("result", "gathered", "late"):
                gather._on_line(line)
                if op != "gathered":
                    return
            with self._waiters_lock:
                waiter = self._waiters.pop(line["id"], None)
            if waiter is not None:
                waiter.answer = line
                waiter.event.set()
        elif "error" in line:
            # An error for a line sent without an id (a fire-and-forget trigger): nobody waits for it.
            print(f"switchboard: {line['error']['code']}: {line['error']['message']}")

    def _dispatch_loop(self):
        while True:
            line = self._events.get()
            if line is None:
                return
            target = self._listens.get(line.get("listen"))
            if target is None:
                continue
            if isinstance(target, queue.Queue):
                target.put(line)
            else:
                try:
                    target(line)
                except Exception as error:  # a failing callback must not stop the others
                    print(f"switchboard: listen callback failed: {error!r}")

    def _answer(self, line):
        reply = {"op": "respond", "rid": line["rid"]}
        try:
            if line["op"] == "request":
                handlers = self._requests.get(line["sender"], {})
                handler = handlers.get(line["request"])
                if handler is not None:
                    reply["data"] = handler(line.get("data"))
                else:
                    reply["data"] = handlers["*"](line["request"], line.get("data"))
            else:
                reply["data"] = self._producers[line["producer"]](line["topic"], line.get("data"))
        except Exception as error:
            reply.pop("data", None)
            reply["error"] = str(error) or type(error).__name__
        try:
            self._send(reply)
        except OSError:
            pass

    def _shutdown(self):
        try:
            self._socket.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._socket.close()
        self._thread.join(timeout=2)
        self._dispatcher.join(timeout=2)
