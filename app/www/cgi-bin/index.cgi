#!/bin/sh
printf 'Content-Type: text/plain\r\n\r\n'
echo "$(uname -m) ${GREETING:-hello} from $(hostname)"
