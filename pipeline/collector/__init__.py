"""The HTTP collector: Segment / RudderStack SDKs and native batches -> `parcours.events.raw`.

  auth.py    the write key (HTTP basic auth user name, or `writeKey` in the body)
  body.py    request bodies: gzip, the size limit, JSON
  lenient.py bodies only Python's json reads (a bare NaN): split, the flawed message dead-lettered
  logic.py   pure: a request body -> the raw messages to produce, or a Refused reply
  routes.py  thin Faust web views on PARCOURS_HTTP_PORT (registered by pipeline/http.py)
"""
