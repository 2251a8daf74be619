"""A storage gateway behind the s3service middleware, in a few lines.

    python examples/gateway.py            # serves on http://127.0.0.1:8000

then, with the printed keys::

    aws --endpoint-url http://127.0.0.1:8000 s3 mb s3://photos
    aws --endpoint-url http://127.0.0.1:8000 s3 ls

The gateway itself (:mod:`s3service.gateway`) answers the bucket-level
operations (CreateBucket, DeleteBucket, HeadBucket, GetBucketLocation, empty
object listings) on the same store the middleware answers ListBuckets from;
``make_app`` wraps it with the middleware (``authenticate_all=True``, so the
gateway finds the caller in ``environ["s3service.identity"]``).  Read it as a
model for bringing your own gateway.
"""
from wsgiref.simple_server import make_server

from s3service.gateway.admin import new_access_key, new_account_id, new_secret_key
from s3service.backends.memory import MemoryBackend
from s3service.gateway import make_app


def demo_app(region="us-east-1"):
    """An in-memory store with one account and key, and the gateway on it."""
    store = MemoryBackend()
    account_id, access_key, secret_key = new_account_id(), new_access_key(), new_secret_key()
    store.add_account(account_id, display_name="example")
    store.add_key(account_id, access_key, secret_key)
    store.add_bucket(account_id, "example-bucket", region=region)
    return make_app(store, region=region, service_hosts=["s3.localhost"]), access_key, secret_key


if __name__ == "__main__":
    app, access_key, secret_key = demo_app()
    print(f"export AWS_ACCESS_KEY_ID={access_key} AWS_SECRET_ACCESS_KEY={secret_key} "
          "AWS_DEFAULT_REGION=us-east-1")
    print("aws --endpoint-url http://127.0.0.1:8000 s3 ls")
    make_server("127.0.0.1", 8000, app).serve_forever()
