"""A heap of real third-party code for the export tests: a Flask app with a
few routes, pydantic models and their instances, and sympy expressions
(under the pyenv 3.11 that has them installed), then os.abort() to leave a
core.

    python3 third_party_program.py

Exits with status 77 (and no core) if a package is missing.
"""

import os
import sys

try:
    import flask
    import pydantic
    import sympy
except ImportError as e:
    sys.stderr.write("missing package: %s\n" % e)
    sys.exit(77)

app = flask.Flask("look")


@app.route("/items/<int:n>")
def item(n):
    return {"n": n}


class Order(pydantic.BaseModel):
    id: int
    customer: str
    lines: list


ORDERS = [Order(id=i, customer="customer-%d" % (i % 97), lines=[i, i + 1, "x" * (i % 13)])
          for i in range(3000)]
x, y = sympy.symbols("x y")
EXPRESSIONS = [sympy.expand((x + y + i) ** 3) for i in range(40)]
with app.test_request_context("/items/3"):
    RESPONSE = item(3)
os.abort()
