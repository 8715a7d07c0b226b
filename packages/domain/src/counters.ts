/** What the domain service refused or dropped, by condition; each is also a typed error. */
export type DomainRefusal =
  | 'wrong-secret'
  | 'no-challenge'
  | 'invalid-invite'
  | 'not-allowed'
  | 'not-a-seed'
  | 'unknown-domain'
  | 'removed'
  | 'forged-join-response'
  | 'not-a-member'
  | 'invalid-record'
  | 'invalid-member-info'
  | 'leave-replay'
  | 'invalid-leave'
  | 'invalid-removal'
  | 'invalid-advert'
  | 'bad-message'
  | 'members-full';

export const DOMAIN_REFUSALS: readonly DomainRefusal[] = [
  'wrong-secret',
  'no-challenge',
  'invalid-invite',
  'not-allowed',
  'not-a-seed',
  'unknown-domain',
  'removed',
  'forged-join-response',
  'not-a-member',
  'invalid-record',
  'invalid-member-info',
  'leave-replay',
  'invalid-leave',
  'invalid-removal',
  'invalid-advert',
  'bad-message',
  'members-full',
];

export interface DomainCounters {
  joinsAdmitted: number;
  joinsRefused: number;
  announcementsForwarded: number;
  viewAdds: number;
  viewRemovals: number;
  refused: Record<DomainRefusal, number>;
}

export function newDomainCounters(): DomainCounters {
  const refused = {} as Record<DomainRefusal, number>;
  for (const r of DOMAIN_REFUSALS) refused[r] = 0;
  return {
    joinsAdmitted: 0,
    joinsRefused: 0,
    announcementsForwarded: 0,
    viewAdds: 0,
    viewRemovals: 0,
    refused,
  };
}
