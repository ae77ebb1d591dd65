--
-- Custom keywords of Rspamd's ratelimit module (see local.d/ratelimit.conf):
-- the outbound send limits of each tenant domain, per logged-in mailbox and
-- per domain, read from the map that `mailops install` writes
-- (`domain <per mailbox>,<per domain>` per line, `-` for no limit). Nothing
-- in this file depends on the tenants or the platform: the map's path comes
-- from ratelimit.conf's `ratelimit_map`.
local rspamd_logger = require "rspamd_logger"

local opts = rspamd_config:get_all_opt('ratelimit') or {}
local path = opts['ratelimit_map']
if type(path) ~= 'string' then
  rspamd_logger.errx(rspamd_config, 'mailops ratelimit: no ratelimit_map in ratelimit.conf')
  return {}
end
local limits = rspamd_config:add_map({
  type = 'map',
  url = path,
  description = 'mailops: outbound send limits per tenant domain',
})

-- A limit as the module's bucket: the hour's allowance, leaked over the hour.
local function bucket(per_hour)
  return { burst = per_hour, rate = string.format('%d / 1h', per_hour), skip_recipients = true }
end

-- The login, its domain and the domain's two limits (nil when none applies).
local function lookup(task)
  local user = task:get_user()
  if not user or not limits then return nil end
  user = string.lower(user)
  local domain = string.match(user, '@([^@]+)$')
  if not domain then return nil end
  local value = limits:get_key(domain)
  if not value then return nil end
  local mailbox, whole = string.match(value, '^([%d-]+),([%d-]+)$')
  return user, domain, tonumber(mailbox), tonumber(whole)
end

return {
  mailops_mailbox = function(task)
    local user, _, per_hour = lookup(task)
    if not per_hour then return nil end
    return 'mailops:mailbox:' .. user, bucket(per_hour)
  end,
  mailops_domain = function(task)
    local _, domain, _, per_hour = lookup(task)
    if not per_hour then return nil end
    return 'mailops:domain:' .. domain, bucket(per_hour)
  end,
}
