# Run by tests/linux_abi.rs in the guest (python3.13 with its sqlite3
# module): two processes share one SQLite database in WAL mode, one writing
# and one reading at the same time.
#
# Usage: python3.13 sqlite_wal.py writer DB TXNS ROWS
#        python3.13 sqlite_wal.py reader DB TXNS ROWS
#
# The writer creates the database (journal_mode=WAL), then commits TXNS
# transactions; transaction t inserts ROWS rows of batch t and sets the
# one-row table `total` to the number of rows so far.  The reader, started
# beside it, reads in a loop, each time in one read transaction: the row
# count, the number of distinct batches, the largest batch and `total`.  A
# consistent snapshot has count == total == batches * ROWS and every batch
# complete; anything else is a torn transaction.  The writer starts its
# transactions only once the reader has opened the database, and waits
# half-way until the reader has seen a snapshot in between.  The reader stops when it
# sees all TXNS batches, and prints how many distinct snapshots it saw.
import os, sqlite3, sys, time

role, db, txns, rows = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
DEADLINE = time.monotonic() + 240


def connect():
    c = sqlite3.connect(db, timeout=60, isolation_level=None)
    c.execute("PRAGMA busy_timeout=60000")
    return c


if role == "writer":
    c = connect()
    mode = c.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    assert mode == "wal", mode
    c.execute("BEGIN IMMEDIATE")
    c.execute("CREATE TABLE IF NOT EXISTS t (batch INTEGER, k INTEGER, v TEXT)")
    c.execute("CREATE TABLE IF NOT EXISTS total (n INTEGER)")
    c.execute("INSERT INTO total VALUES (0)")
    c.execute("COMMIT")
    # The reader waits for this file before it opens the database, and
    # answers with its own once it has, so that the two run at once.
    open(db + ".ready", "w").close()
    while not os.path.exists(db + ".reading"):
        assert time.monotonic() < DEADLINE, "the reader never opened the database"
        time.sleep(0.01)
    n = 0
    for t in range(txns):
        c.execute("BEGIN IMMEDIATE")
        c.executemany("INSERT INTO t VALUES (?, ?, ?)",
                      [(t, k, f"row {t}.{k} " + "x" * (k % 50)) for k in range(rows)])
        n += rows
        c.execute("UPDATE total SET n = ?", (n,))
        c.execute("COMMIT")
        if t == txns // 2:
            # Half-way, the reader must see this snapshot (or a later
            # one) while the writer waits: the two really overlap.
            while not os.path.exists(db + ".mid"):
                assert time.monotonic() < DEADLINE, "the reader never saw the writer's work in progress"
                time.sleep(0.01)
    final = c.execute("SELECT count(*), (SELECT n FROM total) FROM t").fetchone()
    c.close()
    print("writer", txns, "transactions", final[0], final[1])
else:
    while not os.path.exists(db + ".ready"):
        assert time.monotonic() < DEADLINE, "the writer never created the database"
        time.sleep(0.01)
    c = connect()
    mode = c.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal", mode
    open(db + ".reading", "w").close()
    seen = set()
    reads = 0
    while True:
        assert time.monotonic() < DEADLINE, f"reader timed out after {reads} reads"
        c.execute("BEGIN")
        count, batches, top = c.execute(
            "SELECT count(*), count(DISTINCT batch), coalesce(max(batch), -1) FROM t").fetchone()
        total = c.execute("SELECT n FROM total").fetchone()[0]
        short = c.execute(
            "SELECT count(*) FROM (SELECT batch FROM t GROUP BY batch HAVING count(*) != ?)",
            (rows,)).fetchone()[0]
        c.execute("COMMIT")
        reads += 1
        if not (count == total == batches * rows and top == batches - 1 and short == 0):
            print(f"TORN: count={count} total={total} batches={batches} top={top} short={short}")
            sys.exit(1)
        seen.add(batches)
        if 0 < batches < txns and not os.path.exists(db + ".mid"):
            open(db + ".mid", "w").close()
        if batches == txns:
            break
    c.close()
    print(f"reader: {reads} reads, {len(seen)} distinct snapshots", file=sys.stderr)
    print("reader consistent; final", count, "rows,", txns, "batches;",
          "saw intermediate snapshots:", len(seen - {0, txns}) > 0)
