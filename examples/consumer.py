"""Consumer example (message processing service), with the blocking API.

Processes one message and archives it, then a batch that it deletes. Run producer.py first.
"""

from __future__ import annotations

from pgqrs import sync as pgqrs


def main() -> None:
    config = pgqrs.Config.load()
    with pgqrs.PgqrsAdmin.connect(config) as admin:
        queue_info = admin.get_queue("email_queue")
        with pgqrs.Consumer(admin.pool, queue_info, config) as consumer:
            message = consumer.dequeue()
            if message is not None:
                print(f"Processing email: {message.id} to {message.payload['to']}")
                # ... send the email here ...
                if consumer.archive(message.id):
                    print(f"Email {message.id} archived successfully")

            messages = consumer.dequeue_batch(10)
            if messages:
                print(f"Processing batch of {len(messages)} emails")
                processed_ids = []
                for item in messages:
                    print(f"Sending email to: {item.payload['to']}")
                    processed_ids.append(item.id)
                results = consumer.delete_batch(processed_ids)
                print(f"Successfully processed {sum(results)} emails")


if __name__ == "__main__":
    main()
