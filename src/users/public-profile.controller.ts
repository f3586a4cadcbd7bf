import { Controller, Get, Param } from '@nestjs/common';
import { ApiBadRequestResponse, ApiNotFoundResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { Cached, encodeKeySegment, userTag, type KeyBuilder, type KeyContext } from '../cache/index.js';
import { isCanonicalId, ParseIdPipe } from '../common/parse-id.pipe.js';
import { PublicProfileView } from './user.model.js';
import { UsersService } from './users.service.js';

/** The `id` path param, when `ParseIdPipe` accepts it. */
function canonicalId(context: KeyContext): string | undefined {
  const id = context.params['id'];
  return id !== undefined && isCanonicalId(id) ? id : undefined;
}

/**
 * `profile:{id}`: one entry per user, shared by every caller (the key names no caller), tagged `user:{id}` so
 * that `invalidateUser(id)` (a profile write, a role change, a ban, a delete) makes it a miss at once. An id
 * that `ParseIdPipe` refuses gets no key: the request is answered uncached, with the pipe's 400.
 */
const publicProfileKeyBuilder: KeyBuilder = Object.assign(
  (context: KeyContext) => {
    const id = canonicalId(context);
    return id === undefined ? undefined : `${context.namespace}:${encodeKeySegment(id)}`;
  },
  {
    tags: (context: KeyContext): readonly string[] => {
      const id = canonicalId(context);
      return id === undefined ? [] : [userTag(id)];
    },
  },
);

const id = new ParseIdPipe();

/**
 * A user's public profile: the same response for every caller, with or without credentials (no guard), so
 * browsers, reverse proxies and CDNs may share it (`public: true`). Shared caches may serve it for 5 s without
 * asking (`s-maxage=5`), so a rename reaches a CDN's readers at most 5 s late; browsers revalidate every time.
 * A controller of its own because the guards of `UsersController` cover every route of that class.
 */
@ApiTags('users')
@Controller('users')
export class PublicProfileController {
  constructor(private readonly users: UsersService) {}

  @Get(':id/public')
  @Cached({ namespace: 'profile', keyBuilder: publicProfileKeyBuilder, public: true, sharedMaxAge: 5 })
  @ApiOkResponse({ type: PublicProfileView })
  @ApiBadRequestResponse({ description: 'The id is not a positive integer written the canonical way' })
  @ApiNotFoundResponse({ description: 'No such user' })
  profile(@Param('id', id) userId: number): Promise<PublicProfileView> {
    return this.users.publicProfile(userId);
  }
}
