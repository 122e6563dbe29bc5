"""The code cells of the notebook "Tracing 101", verbatim: the contract this project meets.

Each ``CELL_<n>`` is the cell ``In [n]`` as text, to ``exec`` in one shared namespace, as a
notebook kernel would run them. ``CELL_6`` is a shell command (``!aws ...`` in the notebook).
``tests/core``, ``tests/dynamodb`` and ``tests/otlp`` run them against the real thing.
"""

# ruff: noqa: E501 - cells are kept exactly as the notebook has them

CELL_1 = """\
from generative_ai_toolkit.tracer import (
    Tracer,
    NoopTracer,
    HumanReadableTracer,
    InMemoryTracer,
    StructuredLogsTracer,
    TeeTracer,
)
from generative_ai_toolkit.tracer.otlp import OtlpTracer
from generative_ai_toolkit.tracer.dynamodb import DynamoDbTracer

import time
import random
"""

CELL_2 = """\
in_memory_tracer = InMemoryTracer(
    memory_size=1000  # Store max 1000 traces, before discarding older ones
)

# Context, added to all traces:
in_memory_tracer.set_context(resource_attributes={"service.name": "MyAgent"})

with in_memory_tracer.trace("parent") as parent_span:
    parent_span.add_attribute("foo", "bar")
    parent_span.add_attribute(
        "inherited.foo",
        "bar",
        inheritable=True,  # Inheritable attributes propagate to child spans
    )
    time.sleep(0.1)

    # Nested spans become child spans, that point to the parent (parent_span_id):
    with in_memory_tracer.trace("child") as child_span:
        child_span.add_attribute("bar", "foo")
        time.sleep(0.1)

for trace in in_memory_tracer.get_traces():
    print(trace)
    print()
"""

CELL_3 = """\
conversation_id = random.randint(0, 1000000)

with in_memory_tracer.trace("parent", span_kind="SERVER") as parent_span:
    parent_span.add_attribute("ai.conversation.id", conversation_id, inheritable=True)
    parent_span.add_attribute("ai.auth.context", "user123", inheritable=True)
    time.sleep(0.1)

    with in_memory_tracer.trace("child") as child_span:
        child_span.add_attribute("ai.trace.type", "tool-invocation")
        child_span.add_attribute("ai.tool.input", "Hello, world!")
        child_span.add_attribute("ai.tool.output", "World, hello!")
        time.sleep(0.1)


for trace in in_memory_tracer.get_traces(
    attribute_filter={
        "ai.conversation.id": conversation_id  # filter traces by conversation id
    }
):
    print(trace.as_human_readable())
    print()
"""

CELL_4 = """\
import sys

human_readable_tracer = HumanReadableTracer(stream=sys.stdout)

human_readable_tracer.set_context(resource_attributes={"service.name": "MyAgent"})

with human_readable_tracer.trace("parent", span_kind="SERVER") as parent_span:
    parent_span.add_attribute("ai.conversation.id", conversation_id, inheritable=True)
    parent_span.add_attribute("ai.auth.context", "user123", inheritable=True)
    time.sleep(0.1)

    with human_readable_tracer.trace("child") as child_span:
        child_span.add_attribute("ai.trace.type", "tool-invocation")
        child_span.add_attribute("ai.tool.input", "Hello, world!")
        child_span.add_attribute("ai.tool.output", "World, hello!")
        time.sleep(0.1)
"""

CELL_5 = """\
structured_logs_tracer = StructuredLogsTracer(stream=sys.stdout)

structured_logs_tracer.set_context(resource_attributes={"service.name": "MyAgent"})

with structured_logs_tracer.trace("parent", span_kind="SERVER") as parent_span:
    parent_span.add_attribute("ai.conversation.id", conversation_id, inheritable=True)
    parent_span.add_attribute("ai.auth.context", "user123", inheritable=True)
    time.sleep(0.1)

    with structured_logs_tracer.trace("child") as child_span:
        child_span.add_attribute("ai.trace.type", "tool-invocation")
        child_span.add_attribute("ai.tool.input", "Hello, world!")
        child_span.add_attribute("ai.tool.output", "World, hello!")
        time.sleep(0.1)
"""

CELL_6 = """\
aws dynamodb create-table \\
  --table-name MyTracesTable \\
  --attribute-definitions \\
    AttributeName=pk,AttributeType=S \\
    AttributeName=sk,AttributeType=S \\
    AttributeName=conversation_id,AttributeType=S \\
  --key-schema \\
    AttributeName=pk,KeyType=HASH \\
    AttributeName=sk,KeyType=RANGE \\
  --billing-mode PAY_PER_REQUEST \\
  --global-secondary-indexes '[{"IndexName":"conversation_index","KeySchema":[{"AttributeName":"conversation_id","KeyType":"HASH"},{"AttributeName":"sk","KeyType":"RANGE"}],"Projection":{"ProjectionType":"ALL"}}]'
"""

CELL_7 = """\
conversation_id = random.randint(0, 1000000)
auth_context = "user123"

ddb_tracer = DynamoDbTracer(
    table_name="MyTracesTable",
    identifier="MyAgent",
    conversation_id_gsi_name="conversation_index",
)

ddb_tracer.set_context(resource_attributes={"service.name": "MyAgent"})

with ddb_tracer.trace("parent", span_kind="SERVER") as parent_span:
    parent_span.add_attribute("ai.conversation.id", conversation_id, inheritable=True)
    parent_span.add_attribute("ai.auth.context", auth_context, inheritable=True)
    time.sleep(0.1)

    with ddb_tracer.trace("child") as child_span:
        child_span.add_attribute("ai.trace.type", "tool-invocation")
        child_span.add_attribute("ai.tool.input", "Hello, world!")
        child_span.add_attribute("ai.tool.output", "World, hello!")
        time.sleep(0.1)


for trace in ddb_tracer.get_traces(
    attribute_filter={
        "ai.conversation.id": conversation_id,
        "ai.auth.context": auth_context,
    }
):
    print(trace.as_human_readable())
    print()
"""

CELL_8 = '''\
# Create the ADOT config file:

yaml_content = """\\
receivers:
  otlp:
    protocols:
      http:
        endpoint: 0.0.0.0:4318

processors:
  batch/traces:
    timeout: 10s
    send_batch_size: 50

exporters:
  awsxray:
    region: eu-central-1
    indexed_attributes:
      - ai.conversation.id

service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch/traces]
      exporters: [awsxray]
"""

with open("adot-config.yaml", "w") as f:
    f.write(yaml_content)
'''

CELL_10 = """\
otlp_tracer = OtlpTracer()

otlp_tracer.set_context(resource_attributes={"service.name": "MyAgent"})

with otlp_tracer.trace("parent", span_kind="SERVER") as parent_span:
    parent_span.add_attribute("ai.conversation.id", "123456", inheritable=True)
    parent_span.add_attribute("ai.auth.context", "user123", inheritable=True)
    time.sleep(0.1)

    with otlp_tracer.trace("child") as child_span:
        child_span.add_attribute("ai.trace.type", "tool-invocation")
        child_span.add_attribute("ai.tool.input", "Hello, world!")
        child_span.add_attribute("ai.tool.output", "World, hello!")
        time.sleep(0.1)
"""

CELL_12 = """\
noop_tracer = NoopTracer()
with noop_tracer.trace("noop") as span:
    span.add_attribute("foo", "bar")

# nothing was logged
"""

CELL_13 = """\
tee_tracer = TeeTracer()

# E.g. the DynamoDBTracer supports get_traces(), so add that first:
tee_tracer.add_tracer(ddb_tracer)

tee_tracer.add_tracer(human_readable_tracer)

# This is of course useless, but added for the sake of the example:
tee_tracer.add_tracer(noop_tracer)
"""

CELL_14 = """\
conversation_id = random.randint(0, 1000000)
auth_context = "user456"

tee_tracer.set_context(resource_attributes={"service.name": "MyAgent"})

with tee_tracer.trace("parent", span_kind="SERVER") as parent_span:
    parent_span.add_attribute("ai.conversation.id", conversation_id, inheritable=True)
    parent_span.add_attribute("ai.auth.context", auth_context, inheritable=True)
    time.sleep(0.1)

    with tee_tracer.trace("child") as child_span:
        child_span.add_attribute("ai.trace.type", "tool-invocation")
        child_span.add_attribute("ai.tool.input", "Hello, world!")
        child_span.add_attribute("ai.tool.output", "World, hello!")
        time.sleep(0.1)


print("==== from DynamoDB: ====")
for trace in tee_tracer.get_traces(
    attribute_filter={
        "ai.conversation.id": conversation_id,
        "ai.auth.context": auth_context,
    }
):
    print(trace)
    print()
"""

CELL_15 = """\
from generative_ai_toolkit.tracer import traced

in_memory_tracer = InMemoryTracer()


@traced("parent", tracer=in_memory_tracer)
def parent_fn():
    child_fn()
    time.sleep(0.1)


@traced("child", tracer=in_memory_tracer)
def child_fn():
    time.sleep(0.1)
"""

CELL_16 = """\
parent_fn()

for trace in in_memory_tracer.get_traces():
    print(trace)
"""

CELL_17 = """\
in_memory_tracer = InMemoryTracer()


@traced("parent", tracer=in_memory_tracer)
def parent_fn2():
    in_memory_tracer.current_trace.add_attribute("foo", "bar", inheritable=True)
    child_fn2()
    time.sleep(0.1)


@traced("child", tracer=in_memory_tracer)
def child_fn2():
    in_memory_tracer.current_trace.add_attribute("bar", "foo")
    time.sleep(0.1)


parent_fn2()

for trace in in_memory_tracer.get_traces():
    print(trace)
"""

CELL_18 = """\
in_memory_tracer = InMemoryTracer()


class MyAgent:
    def __init__(self, tracer: Tracer) -> None:
        self._tracer = tracer

    @property
    def tracer(self):
        return self._tracer

    @traced
    def parent_method(self):
        self.tracer.current_trace.add_attribute("foo", "bar", inheritable=True)
        self.child_method()
        time.sleep(0.1)

    @traced
    def child_method(self):
        self.tracer.current_trace.add_attribute("bar", "foo")
        time.sleep(0.1)


agent = MyAgent(in_memory_tracer)
agent.parent_method()

for trace in in_memory_tracer.get_traces():
    print(trace)
"""

CELL_19 = """\
from generative_ai_toolkit.tracer import BaseTracer, Trace


class MyTracer(BaseTracer):

    def persist(self, trace: Trace):
        print(trace.as_human_readable())  # This is what the `HumanReadableTracer` does


my_tracer = MyTracer()

with my_tracer.trace("span") as span:
    span.add_attribute("foo", "bar")
"""
