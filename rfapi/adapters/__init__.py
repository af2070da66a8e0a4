"""One adapter per outside system. These modules are the only places that know
MariaDB, AMI, fwconsole or the file layout; resources call them, never sockets
or cursors directly."""
