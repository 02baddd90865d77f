<?php
/*
 * CRM connector module for MikoPBX: reads the daemon's /healthz for the status panel.
 */

namespace Modules\ModuleCrmConnector\Lib;

class HealthClient
{
    /**
     * The /healthz body (status, ami.connected, outbox.depth, outbox.dead...), or
     * ['status' => 'down'] when the daemon does not answer within $timeout seconds.
     */
    public static function read(string $host, int $port, float $timeout): array
    {
        $context = stream_context_create([
            'http' => ['timeout' => $timeout, 'ignore_errors' => true, 'method' => 'GET'],
        ]);
        $body = @file_get_contents("http://$host:$port/healthz", false, $context);
        if ($body === false) {
            return ['status' => 'down'];
        }
        $data = json_decode($body, true);
        return is_array($data) ? $data : ['status' => 'down'];
    }
}
