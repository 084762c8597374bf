"""A heap of real third-party code for the clean-heap test: a Flask app
with Jinja2 templates, pydantic models, sympy and networkx at work, then
an abort to leave a core. Exits 77 when a package is missing."""

import os
import sys

try:
    import flask
    import jinja2
    import networkx
    import pydantic
    import sympy
except ImportError as e:
    sys.stderr.write("missing a package: %s\n" % e)
    sys.exit(77)


class Item(pydantic.BaseModel):
    name: str
    price: float
    tags: list = []


app = flask.Flask("shop")
ITEMS = [Item(name="item%d" % i, price=i * 1.5, tags=["t%d" % (i % 7)]) for i in range(500)]


@app.route("/items/<int:n>")
def show(n):
    return flask.render_template_string("{{ item.name }} costs {{ item.price }}",
                                        item=ITEMS[n % len(ITEMS)])


CLIENT = app.test_client()
PAGES = [CLIENT.get("/items/%d" % i).data for i in range(50)]

ENV = jinja2.Environment()
TEMPLATE = ENV.from_string("{% for i in items %}{{ i.name }},{% endfor %}")
RENDERED = TEMPLATE.render(items=ITEMS[:100])

X, Y = sympy.symbols("x y")
EXPR = sympy.simplify(sympy.sin(X) ** 2 + sympy.cos(X) ** 2 + (X + Y) ** 3)
SOLVED = sympy.solve(X ** 2 - 4, X)

GRAPH = networkx.gnm_random_graph(300, 900, seed=1)
PATHS = dict(networkx.single_source_shortest_path_length(GRAPH, 0))
COMPONENTS = list(networkx.connected_components(GRAPH))
CENTRAL = networkx.degree_centrality(GRAPH)

sys.stdout.flush()
os.abort()
