# Python threads under cranemu: worker threads computing and joined, a
# producer and a consumer on a bounded queue (a condition variable), and a
# lock-protected counter. The output does not depend on scheduling; the
# test compares it with the host python's.
import threading, collections
results = [0] * 4
def work(i):
    s = 0
    for k in range(20000):
        s += (k * (i + 1)) % 7
    results[i] = s
ts = [threading.Thread(target=work, args=(i,)) for i in range(4)]
for t in ts: t.start()
for t in ts: t.join()
print("sums", results)
# A bounded queue on a condition variable (the queue module is not in
# python3.13-minimal).
items = collections.deque()
cond = threading.Condition()
def put(x):
    with cond:
        while len(items) >= 8:
            cond.wait()
        items.append(x)
        cond.notify_all()
def get():
    with cond:
        while not items:
            cond.wait()
        x = items.popleft()
        cond.notify_all()
        return x
def producer():
    for i in range(1000):
        put(i)
    put(None)
got = []
def consumer():
    while True:
        x = get()
        if x is None:
            break
        got.append(x)
p = threading.Thread(target=producer); c = threading.Thread(target=consumer)
p.start(); c.start(); p.join(); c.join()
print("queue", len(got), sum(got))
lock = threading.Lock(); counter = [0]
def inc():
    for _ in range(2000):
        with lock:
            counter[0] += 1
ts = [threading.Thread(target=inc) for _ in range(4)]
for t in ts: t.start()
for t in ts: t.join()
print("lock", counter[0], "threads", threading.active_count())
