"""The node canvas: a QGraphicsScene that observes the document, its items, its view and gestures."""
