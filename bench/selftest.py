"""The bench self-tests' bookkeeping: check() records a failed condition, finish() reports and
gives the exit status."""

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def finish(name):
    if failures:
        print("%d failure(s)" % len(failures))
        return 1
    print("%s: all passed" % name)
    return 0
