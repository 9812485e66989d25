"""`redpanda-init` on the stand-in: create the topics with N partitions (existing ones are left as they are).

Usage: kafka_topics.py BOOTSTRAP PARTITIONS TOPIC...
"""

import sys

from confluent_kafka.admin import AdminClient, NewTopic

bootstrap, partitions, names = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
admin = AdminClient({"bootstrap.servers": bootstrap})
existing = admin.list_topics(timeout=10).topics
wanted = [NewTopic(name, partitions, 1) for name in names if name not in existing]
for name, future in admin.create_topics(wanted).items() if wanted else []:
    future.result(15)
    print(f"created {name} ({partitions} partitions)")
for name in names:
    meta = admin.list_topics(name, timeout=10).topics[name]
    print(f"{name}: {len(meta.partitions)} partitions")
