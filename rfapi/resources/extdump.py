"""Full configuration dump of extensions."""
from ..routing import Resource

resource = Resource("extdump", "Full configuration dump of extensions")
