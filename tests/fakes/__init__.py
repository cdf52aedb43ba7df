"""Local fakes of the vendors (issue 5): stateful HTTP servers on 127.0.0.1 that enforce each vendor's documented
request and response shapes, sign their webhooks as the vendor does and inject faults on demand."""
